from __future__ import annotations

import os
from pathlib import Path

import pytest

from pai_jupyter.errors import NotFoundError, ValidationError
from pai_jupyter.storage.local import LocalStorage
from pai_jupyter.storage.uri import OssUri


def test_uri_forms() -> None:
    assert OssUri.parse("oss://demo/a/b") == OssUri("demo", "a/b")
    uri = OssUri.parse("oss://demo.oss-cn-hangzhou-internal.aliyuncs.com/x/")
    assert uri.bucket == "demo" and uri.endpoint == "oss-cn-hangzhou-internal.aliyuncs.com" and uri.is_dir
    assert OssUri.parse("oss://demo/x?endpoint=e.example").endpoint == "e.example"
    assert str(OssUri("demo", "a").join("b", "c.txt")) == "oss://demo/a/b/c.txt"


@pytest.mark.parametrize(
    "text",
    ["oss://demo/../x", "oss://demo/a/./b", "oss://demo/a\\b", "oss://demo/a\x00b", "/etc/passwd", "oss://x/a"],
)
def test_escaping_or_malformed_uris_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        OssUri.parse(text)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    (tmp_path / "root" / "demo").mkdir()
    os.symlink("/etc", tmp_path / "root" / "demo" / "link")
    with pytest.raises(ValidationError, match="outside the storage root"):
        store.path_for(OssUri.parse("oss://demo/link/passwd"))


def test_upload_download_folder_with_progress(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.bin").write_bytes(os.urandom(5000))
    (src / "sub" / "b.txt").write_text("hello")
    seen: list[tuple[int, int]] = []
    uri = store.upload(src, OssUri.parse("oss://demo/data/"), lambda d, t: seen.append((d, t)))
    assert str(uri) == "oss://demo/data/"
    assert seen[-1] == (5005, 5005)
    listed = {i.uri for i in store.list(OssUri.parse("oss://demo/data/"), recursive=True)}
    assert listed == {"oss://demo/data/a.bin", "oss://demo/data/sub/b.txt"}
    out = store.download(OssUri.parse("oss://demo/data/"), tmp_path / "out")
    assert (out / "sub" / "b.txt").read_text() == "hello"
    assert (out / "a.bin").read_bytes() == (src / "a.bin").read_bytes()


def test_single_file_into_folder_uri_and_bytes(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "root")
    f = tmp_path / "model.onnx"
    f.write_bytes(b"xyz")
    assert str(store.upload(f, OssUri.parse("oss://demo/models/"))) == "oss://demo/models/model.onnx"
    store.write_bytes(OssUri.parse("oss://demo/p.json"), b"{}")
    assert store.read_bytes(OssUri.parse("oss://demo/p.json")) == b"{}"
    with pytest.raises(NotFoundError):
        store.read_bytes(OssUri.parse("oss://demo/missing"))
    with pytest.raises(ValidationError, match="is a folder"):
        store.delete(OssUri.parse("oss://demo/models/"))
    store.delete(OssUri.parse("oss://demo/models/"), recursive=True)
    assert not store.exists(OssUri.parse("oss://demo/models/"))
