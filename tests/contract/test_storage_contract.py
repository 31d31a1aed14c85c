"""Storage face: the same round trips and errors on both backends."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import NotFoundError, PaiError, ValidationError
from pai_jupyter.storage.uri import OssUri


def test_bytes_round_trip_and_listing(backend: Backend, bucket: str) -> None:
    st = backend.storage
    base = OssUri(bucket, "contract/bytes/")
    st.write_bytes(base.join("a.txt"), b"alpha")
    st.write_bytes(base.join("sub", "b.bin"), bytes(range(256)))
    assert st.read_bytes(base.join("a.txt")) == b"alpha"
    assert st.read_bytes(base.join("sub", "b.bin")) == bytes(range(256))
    assert st.exists(base.join("a.txt")) and st.exists(base.join("sub"))
    assert not st.exists(base.join("missing.txt"))
    top = st.list(base)
    assert [(o.uri, o.is_dir) for o in top] == [
        (f"oss://{bucket}/contract/bytes/a.txt", False),
        (f"oss://{bucket}/contract/bytes/sub/", True),
    ]
    assert top[0].size == 5
    deep = st.list(base, recursive=True)
    assert [o.uri for o in deep] == [
        f"oss://{bucket}/contract/bytes/a.txt",
        f"oss://{bucket}/contract/bytes/sub/b.bin",
    ]
    assert [o.size for o in st.list(base.join("a.txt"))] == [5]


def test_folder_upload_download_with_progress(backend: Backend, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "x.txt").write_text("x" * 1000)
    (src / "nested" / "y.bin").write_bytes(b"\x00\x01" * 3000)
    seen: list[tuple[int, int]] = []
    dest = backend.storage.upload(src, OssUri(bucket, "contract/folder"), lambda d, t: seen.append((d, t)))
    assert str(dest) == f"oss://{bucket}/contract/folder/"
    assert seen[-1] == (7000, 7000)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    out = backend.storage.download(dest, tmp_path / "out")
    assert (out / "x.txt").read_text() == "x" * 1000
    assert (out / "nested" / "y.bin").read_bytes() == b"\x00\x01" * 3000
    single = backend.storage.upload(src / "x.txt", OssUri(bucket, "contract/single/"))
    assert str(single) == f"oss://{bucket}/contract/single/x.txt"
    target = tmp_path / "dl"
    target.mkdir()
    assert backend.storage.download(single, target) == target / "x.txt"


def test_delete_and_errors(backend: Backend, bucket: str, tmp_path: Path) -> None:
    st = backend.storage
    base = OssUri(bucket, "contract/del/")
    st.write_bytes(base.join("one.txt"), b"1")
    st.write_bytes(base.join("inner", "two.txt"), b"2")
    with pytest.raises(ValidationError, match="is a folder"):
        st.delete(base.join("inner"))
    st.delete(base.join("one.txt"))
    assert not st.exists(base.join("one.txt"))
    st.delete(base, recursive=True)
    assert st.list(base, recursive=True) == []
    with pytest.raises(NotFoundError) as err:
        st.read_bytes(base.join("gone.txt"))
    assert "\n" not in str(err.value)
    with pytest.raises(NotFoundError):
        st.download(base.join("gone/"), tmp_path / "nothing")
    with pytest.raises(PaiError):
        st.upload(tmp_path / "does-not-exist", base)
