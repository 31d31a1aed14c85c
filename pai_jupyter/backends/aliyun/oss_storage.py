"""The storage face over OSS (``oss2``): ``oss://bucket/key`` is that bucket and key.

Files go through ``oss2``'s resumable transfers (multipart above
``multipart_threshold``; an interrupted upload or download resumes from the
parts recorded under ``<home>/oss-resume``). Folder transfers report one
progress figure over all files. Errors name the bucket and the endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...config import PaiConfig
from ...errors import NotFoundError, ValidationError
from ...storage.objects import ObjectInfo, ProgressCallback
from ...storage.uri import OssUri
from .credentials import OssCredentialsProvider, region_endpoint
from .sdk_errors import oss_call

MULTIPART_THRESHOLD = 10 * 1024 * 1024
PART_SIZE = 10 * 1024 * 1024
_DELETE_BATCH = 1000


class OssStorage:
    def __init__(
        self,
        config: PaiConfig,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        num_threads: int = 2,
    ) -> None:
        self.config = config
        self.endpoint = region_endpoint(config, "oss")
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.num_threads = num_threads
        self._provider = OssCredentialsProvider()
        self._buckets: dict[tuple[str, str], Any] = {}
        self._resume_root = config.home_path / "oss-resume"

    # -- plumbing ---------------------------------------------------------------
    def _endpoint_of(self, uri: OssUri) -> str:
        return uri.endpoint or self.endpoint

    def _url(self, endpoint: str) -> str:
        return endpoint if "://" in endpoint else f"{self.config.protocol or 'https'}://{endpoint}"

    def bucket(self, uri: OssUri) -> Any:
        import oss2

        endpoint = self._endpoint_of(uri)
        key = (uri.bucket, endpoint)
        if key not in self._buckets:
            auth = oss2.ProviderAuthV4(self._provider)
            self._buckets[key] = oss2.Bucket(
                auth, self._url(endpoint), uri.bucket, region=self.config.region, connect_timeout=10
            )
        return self._buckets[key]

    def _call(self, what: str, uri: OssUri) -> Any:
        return oss_call(f"{what} {uri}", self._endpoint_of(uri), uri.bucket)

    def _object_exists(self, uri: OssUri) -> bool:
        if not uri.key or uri.is_dir:
            return False
        with self._call("check", uri):
            return bool(self.bucket(uri).object_exists(uri.key))

    def _iter(self, uri: OssUri, recursive: bool) -> list[Any]:
        import oss2

        prefix = uri.as_dir().key if uri.key else ""
        with self._call("list", uri):
            return list(oss2.ObjectIteratorV2(self.bucket(uri), prefix=prefix, delimiter="" if recursive else "/"))

    # -- StorageBackend ---------------------------------------------------------
    def exists(self, uri: OssUri) -> bool:
        if self._object_exists(uri):
            return True

        prefix = uri.as_dir().key if uri.key else ""
        with self._call("check", uri):
            result = self.bucket(uri).list_objects_v2(prefix=prefix, max_keys=1)
        return bool(result.object_list or result.prefix_list) or not uri.key

    def list(self, uri: OssUri, recursive: bool = False) -> list[ObjectInfo]:
        if self._object_exists(uri):
            with self._call("stat", uri):
                meta = self.bucket(uri).get_object_meta(uri.key)
            return [ObjectInfo(str(uri), int(meta.content_length), float(meta.last_modified), etag=meta.etag)]
        out = []
        for item in self._iter(uri, recursive):
            child = OssUri(uri.bucket, item.key)
            if item.is_prefix():
                out.append(ObjectInfo(str(child), 0, 0.0, True))
            elif not item.key.endswith("/"):  # skip folder marker objects
                out.append(ObjectInfo(str(child), int(item.size), float(item.last_modified), etag=item.etag))
        return sorted(out, key=lambda o: o.uri)

    def read_bytes(self, uri: OssUri) -> bytes:
        if not uri.key or uri.is_dir:
            raise ValidationError(f"{uri} is a folder", "name an object")
        with self._call("read", uri):
            import oss2.exceptions as oe

            try:
                return self.bucket(uri).get_object(uri.key).read()
            except oe.NoSuchKey:
                raise NotFoundError(
                    f"{uri} does not exist", "check the path with `jupyter pai storage ls`"
                ) from None

    def read_range(self, uri: OssUri, start: int) -> bytes:
        """Bytes from ``start`` to the end (tails append-only files such as metrics).

        OSS ignores a Range whose start is past the end and answers 200 with the whole
        object, unless the request says ``x-oss-range-behavior: standard`` (then 416);
        https://help.aliyun.com/knowledge_detail/39571.html, pai-api.md section 9.
        """
        import oss2.exceptions as oe

        headers = {"x-oss-range-behavior": "standard"}
        with self._call("read", uri):
            try:
                return self.bucket(uri).get_object(uri.key, byte_range=(start, None), headers=headers).read()
            except oe.NoSuchKey:
                return b""
            except oe.ServerError as exc:
                if getattr(exc, "status", 0) == 416:  # nothing new past start
                    return b""
                raise

    def write_bytes(self, uri: OssUri, data: bytes) -> None:
        if not uri.key or uri.is_dir:
            raise ValidationError(f"{uri} is a folder", "name an object")
        with self._call("write", uri):
            self.bucket(uri).put_object(uri.key, data)

    def create_exclusive(self, uri: OssUri, data: bytes) -> bool:
        """Write ``uri`` only if it does not exist yet; False when someone else did first."""
        import oss2.exceptions as oe

        with self._call("write", uri):
            try:
                self.bucket(uri).put_object(uri.key, data, headers={"x-oss-forbid-overwrite": "true"})
                return True
            except oe.ServerError as exc:
                if exc.code == "FileAlreadyExists" or exc.status == 409:
                    return False
                raise

    def upload(self, local: Path, uri: OssUri, progress: ProgressCallback | None = None) -> OssUri:
        local = Path(local)
        if not local.exists():
            raise NotFoundError(f"{local} does not exist")
        if local.is_dir():
            files = [p for p in sorted(local.rglob("*")) if p.is_file()]
            dest = uri.as_dir()
            total = sum(p.stat().st_size for p in files)
            done = 0
            for path in files:
                target = dest.join(path.relative_to(local).as_posix())
                self._upload_file(path, target, _offset(progress, done, total))
                done += path.stat().st_size
            if not files:  # keep empty folders visible, as a folder marker object
                self.write_bytes(dest.join(".keep"), b"")
            if progress:
                progress(total, total)
            return dest
        target = uri.join(local.name) if uri.is_dir else uri
        size = local.stat().st_size
        self._upload_file(local, target, _offset(progress, 0, size))
        if progress:
            progress(size, size)
        return target

    def _upload_file(self, path: Path, uri: OssUri, progress: Any) -> None:
        import oss2

        store = oss2.ResumableStore(root=str(self._resume_root), dir="upload")
        with self._call(f"upload {path} to", uri):
            oss2.resumable_upload(
                self.bucket(uri),
                uri.key,
                str(path),
                store=store,
                multipart_threshold=self.multipart_threshold,
                part_size=self.part_size,
                progress_callback=progress,
                num_threads=self.num_threads,
            )

    def download(self, uri: OssUri, local: Path, progress: ProgressCallback | None = None) -> Path:
        local = Path(local)
        if self._object_exists(uri):
            target = local / uri.name if local.is_dir() else local
            with self._call("stat", uri):
                size = int(self.bucket(uri).head_object(uri.key).content_length)
            self._download_file(uri, target, _offset(progress, 0, size))
            if progress:
                progress(size, size)
            return target
        items = [i for i in self._iter(uri, True) if not i.key.endswith("/")]
        if not items:
            raise NotFoundError(f"{uri} does not exist", "check the path with `jupyter pai storage ls`")
        base = uri.as_dir().key if uri.key else ""
        total = sum(int(i.size) for i in items)
        done = 0
        for item in items:
            rel = item.key[len(base) :]
            if rel == ".keep":
                continue
            target = local / rel
            self._download_file(OssUri(uri.bucket, item.key, uri.endpoint), target, _offset(progress, done, total))
            done += int(item.size)
        local.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(total, total)
        return local

    def _download_file(self, uri: OssUri, target: Path, progress: Any) -> None:
        import oss2

        target.parent.mkdir(parents=True, exist_ok=True)
        store = oss2.ResumableDownloadStore(root=str(self._resume_root), dir="download")
        with self._call("download", uri):
            oss2.resumable_download(
                self.bucket(uri),
                uri.key,
                str(target),
                store=store,
                multiget_threshold=self.multipart_threshold,
                part_size=self.part_size,
                progress_callback=progress,
                num_threads=self.num_threads,
            )

    def delete(self, uri: OssUri, recursive: bool = False) -> None:
        if self._object_exists(uri):
            with self._call("delete", uri):
                self.bucket(uri).delete_object(uri.key)
            return
        keys = [i.key for i in self._iter(uri, True)]
        if not keys:
            return
        if not recursive:
            raise ValidationError(f"{uri} is a folder", "pass recursive=True to delete it with its contents")
        for start in range(0, len(keys), _DELETE_BATCH):
            with self._call("delete", uri):
                self.bucket(uri).batch_delete_objects(keys[start : start + _DELETE_BATCH])


def _offset(progress: ProgressCallback | None, done: int, total: int) -> Any:
    """oss2 reports per-file progress; shift it into the whole transfer's figures."""
    if progress is None:
        return None

    def callback(consumed: int, _size: int | None) -> None:
        progress(done + consumed, total)

    return callback
