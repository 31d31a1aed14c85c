"""A fake OSS: path-style object API over a folder (``<root>/<bucket>/<key>``).

Implements what ``oss2`` sends for our storage face: Put/Get (Range)/Head/
GetObjectMeta/Delete objects, ListObjectsV2 (delimiter, continuation, URL
encoding), DeleteMultipleObjects, and multipart upload (Initiate, UploadPart,
ListParts, Complete, Abort). Errors are OSS's XML bodies (and the base64
``x-oss-err`` header on HEAD), with ``x-oss-request-id``. Objects are plain
files, so the fake DLC can "mount" a bucket prefix as a folder, as DLC mounts
OSS into pods.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import secrets
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

from oss2.utils import Crc64

from .common import FakeServer, Request, Response, request_id
from .signing import ACCESS_KEY, KEYS, verify_oss4

__all__ = ["ACCESS_KEY", "FakeOss"]


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` as (start, end) with end clipped; None if malformed
    (OSS ignores a Range it cannot parse and answers the whole object)."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        return max(0, size - int(m.group(2))), size - 1
    start = int(m.group(1))
    if m.group(2) and int(m.group(2)) < start:
        return None  # a-b with b < a is not a valid range: ignored
    end = int(m.group(2)) if m.group(2) else size - 1
    return start, max(start, min(end, size - 1))  # the caller handles a start past the end


def _crc(data: bytes) -> str:
    crc = Crc64()
    crc.update(data)
    return str(crc.crc)


class FakeOss(FakeServer):
    name = "fake-oss"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads = root.parent / f"{root.name}-uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.deny_buckets: set[str] = set()
        self.deny_writes: set[str] = set()
        self.fail_parts: set[int] = set()  # UploadPart numbers that fail once with a 500

    def create_bucket(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    # -- responses ------------------------------------------------------------------
    def error(self, req: Request, status: int, code: str, message: str, **extra: str) -> Response:
        rid = request_id()
        fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<RequestId>{rid}</RequestId><HostId>{self.endpoint}</HostId>{fields}</Error>"
        ).encode()
        headers = {"x-oss-request-id": rid, "Content-Type": "application/xml"}
        if req.method == "HEAD":
            headers["x-oss-err"] = base64.b64encode(xml).decode()
            return Response(status, b"", headers)
        return Response(status, xml, headers)

    def ok(self, body: bytes = b"", status: int = 200, **headers: str) -> Response:
        base = {"x-oss-request-id": request_id()}
        if body.startswith(b"<?xml"):
            base["Content-Type"] = "application/xml"
        return Response(status, body, {**base, **headers})

    # -- dispatch -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        parts = req.path.lstrip("/").split("/", 1)
        bucket, key = parts[0], parts[1] if len(parts) > 1 else ""
        # Every request is OSS V4 signed and recomputed with the secret (signing.verify_oss4).
        problem = verify_oss4(req, bucket, key, KEYS)
        if problem is not None:
            return self.error(req, problem.status, problem.code, problem.message)
        if not bucket:
            return self.error(req, 400, "InvalidBucketName", "bucket missing")
        # A RAM policy without oss:PutObject / oss:GetObject: OSS answers 403 AccessDenied
        # (OSS error codes page, "AccessDenied"); deny_writes models a read-only policy.
        writes = req.method in ("PUT", "POST", "DELETE")
        if bucket in self.deny_buckets or (writes and bucket in self.deny_writes):
            return self.error(req, 403, "AccessDenied", "You have no right to access this object.")
        if not (self.root / bucket).is_dir():
            return self.error(req, 404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=bucket)
        if not key:
            if req.method == "GET" and req.query.get("list-type") == "2":
                return self.list_v2(req, bucket)
            if req.method == "POST" and "delete" in req.query:
                return self.batch_delete(req, bucket)
            return self.error(req, 400, "NotImplemented", f"{req.method} on a bucket is not faked")
        if key.endswith("/") or any(s in ("", ".", "..") for s in key.split("/")):
            return self.error(req, 400, "InvalidObjectName", "The specified object is not valid.")
        if "uploads" in req.query and req.method == "POST":
            return self.initiate(bucket, key)
        if "uploadId" in req.query:
            return self.multipart(req, bucket, key)
        if req.method == "PUT":
            return self.put(req, bucket, key)
        if req.method in ("GET", "HEAD"):
            return self.get(req, bucket, key)
        if req.method == "DELETE":
            path = self.path(bucket, key)
            if path.is_file():
                path.unlink()
            return self.ok(status=204)
        return self.error(req, 400, "NotImplemented", f"{req.method} is not faked")

    # -- objects ------------------------------------------------------------------------
    def _write(self, bucket: str, key: str, data: bytes) -> Response:
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return self.ok(ETag=f'"{hashlib.md5(data).hexdigest().upper()}"', **{"x-oss-hash-crc64ecma": _crc(data)})

    # PutObject; x-oss-forbid-overwrite: true refuses an existing key with 409 FileAlreadyExists
    # (OSS API reference, PutObject request headers; oss2 api.py put_object).
    def put(self, req: Request, bucket: str, key: str) -> Response:
        if req.headers.get("x-oss-forbid-overwrite") == "true":
            with self.lock:  # check and write as one step, as OSS does
                if self.path(bucket, key).exists():
                    return self.error(req, 409, "FileAlreadyExists", "The object you specified already exists.")
                return self._write(bucket, key, req.body)
        return self._write(bucket, key, req.body)

    # GetObject / HeadObject: ETag, Last-Modified, x-oss-hash-crc64ecma on whole objects, 404 NoSuchKey
    # (OSS API reference, GetObject; oss2 checks the CRC64 it reads against that header).
    def get(self, req: Request, bucket: str, key: str) -> Response:
        path = self.path(bucket, key)
        if not path.is_file():
            return self.error(req, 404, "NoSuchKey", "The specified key does not exist.", Key=key)
        data = path.read_bytes()
        st = path.stat()
        headers = {
            "ETag": f'"{hashlib.md5(data).hexdigest().upper()}"',
            "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            "x-oss-object-type": "Normal",
            "Accept-Ranges": "bytes",
        }
        status, body = 200, data
        rng = req.headers.get("range")
        span = _parse_range(rng, len(data)) if rng else None
        standard = req.headers.get("x-oss-range-behavior") == "standard"
        # OSS's Range rules (https://help.aliyun.com/knowledge_detail/39571.html, pai-api.md section 9):
        # a start past the end is ignored (200, the whole object) unless the request carries
        # x-oss-range-behavior: standard, which answers 416 InvalidRange; an end past the size
        # gives 206 with what exists.
        if span is not None and span[0] >= len(data):
            if standard:
                return self.error(req, 416, "InvalidRange", "The requested range cannot be satisfied.")
            span = None
        if span is not None:
            start, end = span
            body, status = data[start : end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        else:
            headers["x-oss-hash-crc64ecma"] = _crc(data)
        headers["Content-Length"] = str(len(body))
        if req.method == "HEAD":
            return self.ok(b"", status, **headers)
        return self.ok(body, status, **headers)

    def _walk(self, bucket: str) -> list[str]:
        base = self.root / bucket
        return sorted(
            p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp")
        )

    # ListObjectsV2 (GetBucketV2): list-type=2, prefix, delimiter -> CommonPrefixes, max-keys,
    # continuation-token / NextContinuationToken, encoding-type=url (OSS API reference; oss2 list_objects_v2).
    def list_v2(self, req: Request, bucket: str) -> Response:
        prefix = req.query.get("prefix", "")
        delimiter = req.query.get("delimiter", "")
        max_keys = int(req.query.get("max-keys") or 100)
        token = req.query.get("continuation-token", "")
        url = req.query.get("encoding-type") == "url"
        enc = (lambda s: quote(s, safe="/")) if url else escape
        contents, prefixes, seen = [], [], set()
        for key in self._walk(bucket):
            if not key.startswith(prefix) or key <= token:
                continue
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest.split(delimiter, 1)[0] + delimiter
                if common not in seen:
                    seen.add(common)
                    prefixes.append((common, key))
                continue
            contents.append(key)
        entries = sorted([(k, k, False) for k in contents] + [(p, last, True) for p, last in prefixes])
        truncated = len(entries) > max_keys
        entries = entries[:max_keys]
        next_token = ""
        if truncated:
            # Continue after the last key covered (for a prefix: its last key).
            last_item = entries[-1]
            next_token = (
                max(k for k in self._walk(bucket) if k.startswith(last_item[0])) if last_item[2] else last_item[0]
            )
        xml = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>', f"<Name>{bucket}</Name>"]
        xml.append(f"<Prefix>{enc(prefix)}</Prefix><MaxKeys>{max_keys}</MaxKeys>")
        xml.append(
            f"<Delimiter>{enc(delimiter)}</Delimiter>" + ("<EncodingType>url</EncodingType>" if url else "")
        )
        xml.append(
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated><KeyCount>{len(entries)}</KeyCount>"
        )
        if truncated:
            xml.append(f"<NextContinuationToken>{escape(next_token)}</NextContinuationToken>")
        for name, _, is_prefix in entries:
            if is_prefix:
                xml.append(f"<CommonPrefixes><Prefix>{enc(name)}</Prefix></CommonPrefixes>")
                continue
            path = self.path(bucket, name)
            st = path.stat()
            etag = hashlib.md5(path.read_bytes()).hexdigest().upper()
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            iso = __import__("datetime").datetime.fromtimestamp(st.st_mtime, __import__("datetime").timezone.utc)
            xml.append(
                f"<Contents><Key>{enc(name)}</Key><LastModified>{iso.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</LastModified>"
                f'<ETag>"{etag}"</ETag><Type>Normal</Type><Size>{st.st_size}</Size>'
                f"<StorageClass>Standard</StorageClass></Contents>"
            )
            del modified
        xml.append("</ListBucketResult>")
        return self.ok("".join(xml).encode())

    # DeleteMultipleObjects: POST /?delete with <Delete><Object><Key>, keys URL-encoded with
    # encoding-type=url; missing keys count as deleted (OSS API reference).
    def batch_delete(self, req: Request, bucket: str) -> Response:
        from urllib.parse import unquote

        tree = ET.fromstring(req.body)
        url = req.query.get("encoding-type") == "url"
        deleted = []
        for node in tree.iter("Key"):
            key = unquote(node.text or "") if url else (node.text or "")
            path = self.path(bucket, key)
            if path.is_file():
                path.unlink()
            deleted.append(key)
        enc = (lambda s: quote(s, safe="/")) if url else escape
        body = "".join(f"<Deleted><Key>{enc(k)}</Key></Deleted>" for k in deleted)
        return self.ok(f'<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>{body}</DeleteResult>'.encode())

    # -- multipart -------------------------------------------------------------------------
    # InitiateMultipartUpload / UploadPart / ListParts / CompleteMultipartUpload (parts in ascending
    # order, else InvalidPartOrder) / AbortMultipartUpload (OSS API reference, multipart upload).
    def initiate(self, bucket: str, key: str) -> Response:
        upload_id = secrets.token_hex(16).upper()
        folder = self.uploads / upload_id
        folder.mkdir()
        (folder / "key").write_text(f"{bucket}/{key}")
        return self.ok(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket>'
            f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>".encode()
        )

    def multipart(self, req: Request, bucket: str, key: str) -> Response:
        folder = self.uploads / req.query["uploadId"]
        if not folder.is_dir() or (folder / "key").read_text() != f"{bucket}/{key}":
            return self.error(req, 404, "NoSuchUpload", "The specified upload does not exist.")
        if req.method == "PUT":
            number = int(req.query["partNumber"])
            if number in self.fail_parts:
                self.fail_parts.discard(number)
                return self.error(req, 500, "InternalError", "We encountered an internal error. Please try again.")
            (folder / f"{number:05d}.part").write_bytes(req.body)
            return self.ok(
                ETag=f'"{hashlib.md5(req.body).hexdigest().upper()}"', **{"x-oss-hash-crc64ecma": _crc(req.body)}
            )
        if req.method == "GET":
            parts = []
            for part in sorted(folder.glob("*.part")):
                data = part.read_bytes()
                parts.append(
                    f"<Part><PartNumber>{int(part.stem)}</PartNumber><LastModified>2026-01-01T00:00:00.000Z"
                    f'</LastModified><ETag>"{hashlib.md5(data).hexdigest().upper()}"</ETag><Size>{len(data)}</Size>'
                    f"</Part>"
                )
            return self.ok(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult><Bucket>{bucket}</Bucket><Key>{escape(key)}'
                f"</Key><UploadId>{req.query['uploadId']}</UploadId><IsTruncated>false</IsTruncated>"
                f"<NextPartNumberMarker>0</NextPartNumberMarker>{''.join(parts)}</ListPartsResult>".encode()
            )
        if req.method == "DELETE":
            shutil.rmtree(folder)
            return self.ok(status=204)
        # POST: complete with the listed parts, in order.
        tree = ET.fromstring(req.body)
        numbers = [int(n.text or 0) for n in tree.iter("PartNumber")]
        if numbers != sorted(numbers):
            return self.error(req, 400, "InvalidPartOrder", "parts are not in ascending order")
        data = b"".join((folder / f"{n:05d}.part").read_bytes() for n in numbers)
        self._write(bucket, key, data)
        shutil.rmtree(folder)
        return self.ok(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket>'
            f'<Key>{escape(key)}</Key><ETag>"{hashlib.md5(data).hexdigest().upper()}-{len(numbers)}"</ETag>'
            "</CompleteMultipartUploadResult>".encode(),
            **{"x-oss-hash-crc64ecma": _crc(data)},
        )
