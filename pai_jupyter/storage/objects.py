"""What storage lists and how transfers report progress (both backends' storage faces)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass
class ObjectInfo:
    uri: str
    size: int
    modified: float
    is_dir: bool = False
    etag: str | None = None  # OSS's ETag (content MD5 for simple uploads); None where storage has none
