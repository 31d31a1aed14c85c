"""Data fingerprints: what each ``--data`` input pointed at when the job was submitted.

A fingerprint is the object count, the total size and a SHA-256 of the listing
(relative key, size, and the ETag where storage has one, else the modification
time), taken through the storage protocol's ``list`` so it works on OSS and on
the local backend alike. Huge prefixes are walked folder by folder within a
time and object budget; a fingerprint that stopped early says so
(``complete: false``, what was listed and why it stopped), and two fingerprints
are only called "the same" when both are complete.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import Any

from ..backends.base import StorageBackend
from ..storage.objects import ObjectInfo
from ..storage.uri import OssUri

MAX_OBJECTS = 100_000
MAX_SECONDS = 10.0


def _line(rel: str, info: ObjectInfo) -> str:
    # ETag when storage has one (content MD5 on OSS); else mtime to the microsecond.
    stamp = f"etag:{info.etag.strip(chr(34))}" if info.etag else f"mtime:{info.modified:.6f}"
    return f"{rel}\t{info.size}\t{stamp}\n"


def fingerprint(
    storage: StorageBackend,
    uri: str,
    *,
    max_objects: int = MAX_OBJECTS,
    max_seconds: float = MAX_SECONDS,
    clock: Any = time.monotonic,
) -> dict[str, Any]:
    """The fingerprint of one input URI (a folder prefix or one object)."""
    base = OssUri.parse(uri, "--data")
    started = clock()
    objects: list[tuple[str, ObjectInfo]] = []
    pending = [base]
    stopped: str | None = None
    prefix = base.as_dir().key
    first = True
    while pending:
        if clock() - started > max_seconds:
            stopped = f"time budget of {max_seconds:g}s spent"
            break
        if len(objects) >= max_objects:
            stopped = f"object budget of {max_objects} reached"
            break
        folder = pending.pop(0)
        items = storage.list(folder, recursive=False)
        if first and len(items) == 1 and not items[0].is_dir and items[0].uri.rstrip("/") == str(base).rstrip("/"):
            objects.append((base.key.rsplit("/", 1)[-1], items[0]))  # a single object, not a prefix
            break
        first = False
        for item in items:
            if item.is_dir:
                pending.append(OssUri.parse(item.uri).as_dir())
            else:
                key = OssUri.parse(item.uri).key
                objects.append((key[len(prefix) :] if key.startswith(prefix) else key, item))
    objects.sort(key=lambda o: o[0])
    digest = hashlib.sha256()
    for rel, info in objects:
        digest.update(_line(rel, info).encode())
    complete = stopped is None and not pending
    return {
        "uri": str(base),
        "objects": len(objects),
        "bytes": sum(info.size for _, info in objects),
        "digest": "sha256:" + digest.hexdigest(),
        "keyed_by": "etag" if objects and all(info.etag for _, info in objects) else "mtime",
        "complete": complete,
        "sampled": None
        if complete
        else {
            "listed_objects": len(objects),
            "folders_not_listed": len(pending),
            "why": stopped,
            "note": "count, size and digest cover only the objects listed, in key order of the folders walked",
        },
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(clock() - started, 3),
    }


def fingerprint_inputs(storage: StorageBackend, inputs: Iterable[Any], **bounds: Any) -> dict[str, dict[str, Any]]:
    """``{channel: fingerprint}`` for a JobSpec's ``inputs``."""
    return {item.channel: fingerprint(storage, item.uri, **bounds) for item in inputs}


def compare(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    """None when two fingerprints of one input agree; else one line saying how they differ."""
    if not before or not after:
        return "no fingerprint recorded" if not before else "the input is gone"
    if before.get("digest") == after.get("digest") and before.get("complete") and after.get("complete"):
        return None
    parts = []
    if before.get("objects") != after.get("objects"):
        parts.append(f"{before.get('objects')} -> {after.get('objects')} objects")
    if before.get("bytes") != after.get("bytes"):
        parts.append(f"{before.get('bytes')} -> {after.get('bytes')} bytes")
    if before.get("digest") != after.get("digest"):
        parts.append(f"listing digest {str(before.get('digest'))[:19]}… -> {str(after.get('digest'))[:19]}…")
    if not (before.get("complete") and after.get("complete")):
        parts.append("(a fingerprint was sampled, so equality cannot be proven)")
    return f"{after.get('uri') or before.get('uri')}: " + ", ".join(parts)
