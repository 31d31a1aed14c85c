"""Where a model's provenance lives: ``provenance.json`` beside the model (one rule for both backends)."""

from __future__ import annotations

from typing import Protocol

from .uri import OssUri

PROVENANCE_FILE = "provenance.json"


class _Exists(Protocol):
    def exists(self, uri: OssUri) -> bool: ...


def provenance_beside(storage: _Exists, model: OssUri) -> OssUri | None:
    """``provenance.json`` in the model's folder or in the folder above it (a job's outputs put
    the model in ``model/`` beside it); None when there is none. A file model's folder is its parent."""
    folder = model.as_dir() if model.is_dir else model.parent
    candidates = [model.as_dir(), folder, folder.parent]
    seen: set[str] = set()
    for base in candidates:
        uri = base.join(PROVENANCE_FILE)
        if str(uri) in seen:
            continue
        seen.add(str(uri))
        if storage.exists(uri):
            return uri
    return None
