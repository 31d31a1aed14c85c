"""``oss://bucket/key`` URIs, parsed once and validated.

Accepted forms (as PAI's own SDK does): ``oss://bucket/key``,
``oss://bucket.oss-cn-hangzhou-internal.aliyuncs.com/key`` (endpoint in the
host) and ``?endpoint=`` in the query. Keys that could escape a local root
(``..`` segments, absolute paths, NUL, backslashes) are refused here, so no
backend ever sees one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..errors import ValidationError

# OSS bucket naming rules: 3-63 chars, lowercase letters, digits and hyphens,
# starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_HINT = "write it as oss://<bucket>/<path>, e.g. oss://demo/datasets/digits"


@dataclass(frozen=True)
class OssUri:
    bucket: str
    key: str = ""
    endpoint: str | None = None

    @classmethod
    def parse(cls, text: str, what: str = "URI") -> OssUri:
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"{what} is empty", _HINT)
        text = text.strip()
        if "\x00" in text:
            raise ValidationError(f"{what} {text!r} contains a NUL character", _HINT)
        if not text.startswith("oss://"):
            raise ValidationError(f"{what} {text!r} is not an oss:// URI", _HINT)
        parts = urlsplit(text)
        host = parts.netloc
        endpoint = None
        if "." in host:
            host, endpoint = host.split(".", 1)
        query = parse_qs(parts.query)
        if "endpoint" in query:
            endpoint = query["endpoint"][0]
        if not _BUCKET.match(host):
            raise ValidationError(
                f"{what} {text!r} has an invalid bucket name {host!r}",
                "bucket names are 3-63 lowercase letters, digits or hyphens",
            )
        key = parts.path.lstrip("/")
        _check_key(key, text, what)
        return cls(bucket=host, key=key, endpoint=endpoint)

    @property
    def is_dir(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def join(self, *names: str) -> OssUri:
        key = self.key.rstrip("/")
        for name in names:
            name = name.strip("/")
            if name:
                key = f"{key}/{name}" if key else name
        _check_key(key, key, "path")
        return OssUri(self.bucket, key, self.endpoint)

    def as_dir(self) -> OssUri:
        return self if self.is_dir else OssUri(self.bucket, self.key + "/", self.endpoint)

    @property
    def name(self) -> str:
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> OssUri:
        """The folder holding this object or folder (the bucket's root stays the root)."""
        head = self.key.rstrip("/").rpartition("/")[0]
        return OssUri(self.bucket, head + "/" if head else "", self.endpoint)

    def __str__(self) -> str:
        return f"oss://{self.bucket}/{self.key}"


def _check_key(key: str, text: str, what: str) -> None:
    if "\\" in key:
        raise ValidationError(f"{what} {text!r} contains a backslash", _HINT)
    for segment in key.split("/"):
        if segment in (".", ".."):
            raise ValidationError(f"{what} {text!r} has a {segment!r} path segment", "use a plain path")
    if len(key.encode()) > 1023:
        raise ValidationError(f"{what} {text[:60]!r}... is longer than OSS's 1023-byte key limit")
