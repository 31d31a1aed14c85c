"""Local storage: ``oss://bucket/key`` is ``<root>/<bucket>/<key>``.

Keys are validated by ``OssUri`` (no ``..``, NUL, backslash); ``path_for``
checks again after resolving symlinks, so nothing outside ``root`` is ever
read or written through this face.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import NotFoundError, ValidationError
from .objects import ObjectInfo, ProgressCallback
from .uri import OssUri

_CHUNK = 4 * 1024 * 1024


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, uri: OssUri | str) -> Path:
        uri = OssUri.parse(uri) if isinstance(uri, str) else uri
        path = (self.root / uri.bucket / uri.key).resolve() if uri.key else (self.root / uri.bucket).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValidationError(f"{uri} resolves outside the storage root", "use a plain bucket/key path")
        return path

    def exists(self, uri: OssUri) -> bool:
        return self.path_for(uri).exists()

    def list(self, uri: OssUri, recursive: bool = False) -> list[ObjectInfo]:
        base = self.path_for(uri)
        if base.is_file():
            st = base.stat()
            return [ObjectInfo(str(uri), st.st_size, st.st_mtime)]
        if not base.is_dir():
            return []
        entries = sorted(base.rglob("*") if recursive else base.iterdir())
        out = []
        for path in entries:
            if recursive and path.is_dir():
                continue
            st = path.stat()
            rel = path.relative_to(self.root / uri.bucket).as_posix()
            out.append(
                ObjectInfo(
                    f"oss://{uri.bucket}/{rel}" + ("/" if path.is_dir() else ""),
                    st.st_size,
                    st.st_mtime,
                    path.is_dir(),
                )
            )
        return out

    def read_bytes(self, uri: OssUri) -> bytes:
        path = self.path_for(uri)
        if not path.is_file():
            raise NotFoundError(f"{uri} does not exist", "check the path with `jupyter pai storage ls`")
        return path.read_bytes()

    def write_bytes(self, uri: OssUri, data: bytes) -> None:
        path = self.path_for(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def upload(self, local: Path, uri: OssUri, progress: ProgressCallback | None = None) -> OssUri:
        local = Path(local)
        if not local.exists():
            raise NotFoundError(f"{local} does not exist")
        if local.is_dir():
            files = [p for p in sorted(local.rglob("*")) if p.is_file()]
            total = sum(p.stat().st_size for p in files)
            dest_root = uri.as_dir()
            done = 0
            for path in files:
                target = self.path_for(dest_root.join(path.relative_to(local).as_posix()))
                done = _copy(path, target, done, total, progress)
            if not files:
                self.path_for(dest_root).mkdir(parents=True, exist_ok=True)
            return dest_root
        target = self.path_for(uri.join(local.name) if uri.is_dir else uri)
        _copy(local, target, 0, local.stat().st_size, progress)
        return uri.join(local.name) if uri.is_dir else uri

    def download(self, uri: OssUri, local: Path, progress: ProgressCallback | None = None) -> Path:
        source = self.path_for(uri)
        if not source.exists():
            raise NotFoundError(f"{uri} does not exist")
        local = Path(local)
        if source.is_dir():
            entries = sorted(source.rglob("*"))
            files = [p for p in entries if p.is_file()]
            for path in entries:  # links to files or folders, checked before anything is copied
                real = path.resolve()
                if self.root not in real.parents:
                    rel = path.relative_to(self.root).as_posix()
                    raise ValidationError(
                        f"oss://{rel} is a link to {real}, outside the storage root; nothing was copied",
                        "remove the link from storage, or copy the files it points at yourself",
                    )
            total, done = sum(p.stat().st_size for p in files), 0
            for path in files:
                done = _copy(path, local / path.relative_to(source), done, total, progress)
            local.mkdir(parents=True, exist_ok=True)
            return local
        target = local / source.name if local.is_dir() else local
        _copy(source, target, 0, source.stat().st_size, progress)
        return target

    def delete(self, uri: OssUri, recursive: bool = False) -> None:
        path = self.path_for(uri)
        if path.is_dir():
            if not recursive:
                raise ValidationError(f"{uri} is a folder", "pass recursive=True to delete it with its contents")
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _copy(src: Path, dst: Path, done: int, total: int, progress: ProgressCallback | None) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    shutil.copystat(src, tmp)
    os.replace(tmp, dst)
    return done
