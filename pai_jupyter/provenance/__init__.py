"""Provenance: what a job was built from (environment, Git, entry script, data).

``capture()`` returns one JSON-serialisable dict, redacted of secrets, that is
stored with the job and written beside every output artefact;
``make_snapshot()`` copies the code a job runs (the repository's files as they
are in the working tree, i.e. the commit plus the uncommitted diff, and the
cell as the entry script).
"""

from __future__ import annotations

from .capture import SCHEMA_VERSION, capture
from .environment import capture_environment
from .git import capture_git
from .redact import redact
from .snapshot import SnapshotInfo, make_snapshot

__all__ = [
    "SCHEMA_VERSION",
    "SnapshotInfo",
    "capture",
    "capture_environment",
    "capture_git",
    "make_snapshot",
    "redact",
]
