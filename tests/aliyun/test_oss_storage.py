"""OSS storage through oss2 against the fake OSS: requests, resumable transfers, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pai_jupyter.backends.aliyun.oss_storage import OssStorage
from pai_jupyter.config import PaiConfig
from pai_jupyter.errors import AuthError, BackendUnavailable, NotFoundError, PaiError
from pai_jupyter.storage.uri import OssUri
from tests.aliyun.conftest import BUCKET, AliyunFakes

KIB = 1024


def _storage(**kwargs: int) -> OssStorage:
    return OssStorage(PaiConfig(), **kwargs)


def test_requests_are_signed_path_style_v4(fakes: AliyunFakes) -> None:
    st = _storage()
    st.write_bytes(OssUri(BUCKET, "dir/with space/a.txt"), b"hi")
    put = fakes.oss.requests[-1]
    assert (put.method, put.path) == ("PUT", f"/{BUCKET}/dir/with space/a.txt")
    assert put.headers["authorization"].startswith("OSS4-HMAC-SHA256 Credential=test-ak/")
    assert "/cn-hangzhou/oss/aliyun_v4_request" in put.headers["authorization"]
    assert put.headers["x-oss-content-sha256"] == "UNSIGNED-PAYLOAD" and put.headers["x-oss-date"]
    assert put.headers["host"] == fakes.oss.endpoint
    assert fakes.oss.path(BUCKET, "dir/with space/a.txt").read_bytes() == b"hi"
    st.list(OssUri(BUCKET, "dir/"))
    listing = fakes.oss.requests[-1]
    assert listing.query["list-type"] == "2" and listing.query["prefix"] == "dir/"
    assert listing.query["delimiter"] == "/" and listing.query["encoding-type"] == "url"


def test_exclusive_create_uses_forbid_overwrite(fakes: AliyunFakes) -> None:
    st = _storage()
    uri = OssUri(BUCKET, "claims/2")
    assert st.create_exclusive(uri, b"first") is True
    assert fakes.oss.requests[-1].headers["x-oss-forbid-overwrite"] == "true"
    assert st.create_exclusive(uri, b"second") is False
    assert st.read_bytes(uri) == b"first"


def test_large_file_goes_multipart_and_resumes_after_a_failed_part(fakes: AliyunFakes, tmp_path: Path) -> None:
    st = _storage(multipart_threshold=200 * KIB, part_size=100 * KIB)
    st.num_threads = 1
    data = os.urandom(550 * KIB)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    fakes.oss.fail_parts = {4}
    with pytest.raises(PaiError) as err:
        st.upload(src, OssUri(BUCKET, "big/"))
    assert "request id" in str(err.value) and "\n" not in str(err.value)
    parts_before = [r for r in fakes.oss.requests if "partNumber" in r.query]
    assert sorted(int(r.query["partNumber"]) for r in parts_before) == [1, 2, 3, 4]
    seen: list[tuple[int, int]] = []
    uri = st.upload(src, OssUri(BUCKET, "big/"), lambda d, t: seen.append((d, t)))
    parts_after = [r for r in fakes.oss.requests if "partNumber" in r.query][len(parts_before) :]
    # Parts 1-3 were recorded in the resume store: only 4, 5 and 6 are sent again.
    assert sorted(int(r.query["partNumber"]) for r in parts_after) == [4, 5, 6]
    assert len({r.query["uploadId"] for r in parts_before + parts_after}) == 1
    assert seen[-1] == (len(data), len(data))
    assert fakes.oss.path(BUCKET, "big/big.bin").read_bytes() == data
    out = st.download(uri, tmp_path / "back.bin")
    assert out.read_bytes() == data
    ranged = [r for r in fakes.oss.requests if r.method == "GET" and "range" in r.headers]
    assert len(ranged) == 6  # multiget in 100 KiB ranges


def test_errors_name_bucket_endpoint_and_request_id(fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    st = _storage()
    with pytest.raises(NotFoundError) as err:
        st.read_bytes(OssUri("no-such-bucket", "x"))
    text = str(err.value)
    assert "bucket 'no-such-bucket' does not exist" in text and fakes.oss.endpoint in text
    assert "request id" in text and "PaiConfig.oss_bucket" in text
    fakes.oss.deny_buckets.add(BUCKET)
    with pytest.raises(AuthError, match="AccessDenied on bucket 'pai-test'"):
        st.write_bytes(OssUri(BUCKET, "x"), b"1")
    monkeypatch.setenv("PAI_JUPYTER_OSS_ENDPOINT", "127.0.0.1:1")
    with pytest.raises(BackendUnavailable, match=r"cannot reach OSS endpoint 127\.0\.0\.1:1"):
        _storage().read_bytes(OssUri(BUCKET, "x"))


def test_uri_endpoint_overrides_config(fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_JUPYTER_OSS_ENDPOINT", "127.0.0.1:1")
    st = _storage()
    uri = OssUri.parse(f"oss://{BUCKET}/k.txt?endpoint={fakes.oss.endpoint}")
    st.write_bytes(uri, b"via uri endpoint")
    assert st.read_bytes(uri) == b"via uri endpoint"


def test_cli_storage_cp_and_ls_on_aliyun(fakes: AliyunFakes, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pai_jupyter.frontends.cli.main import cli

    (tmp_path / "f.txt").write_text("cli")
    runner = CliRunner()
    result = runner.invoke(cli, ["storage", "cp", str(tmp_path / "f.txt"), f"oss://{BUCKET}/cli/"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["storage", "ls", f"oss://{BUCKET}/cli/", "--backend", "aliyun"])
    assert result.exit_code == 0 and f"oss://{BUCKET}/cli/f.txt" in result.output
    import subprocess
    import sys

    from tests.conftest import python_env

    proc = subprocess.run(
        [sys.executable, "-m", "pai_jupyter.frontends.cli.main", "storage", "ls", "oss://missing-bucket/x/"],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(
        "Error: list oss://missing-bucket/x/ failed: bucket 'missing-bucket' does not exist"
    )
    assert lines[1].startswith("  hint: check PaiConfig.oss_bucket") and len(lines) == 2
