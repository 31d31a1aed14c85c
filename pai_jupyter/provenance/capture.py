"""One provenance record per submission."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._version import __version__
from .environment import capture_environment
from .git import DEFAULT_MAX_DIFF_BYTES, capture_git
from .redact import redact, secret_values

SCHEMA_VERSION = 1


def capture(
    cwd: Path | str | None = None,
    *,
    entry_source: str = "",
    entry_name: str = "main.py",
    data_uris: Iterable[str] = (),
    spec: dict[str, Any] | None = None,
    max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES,
) -> dict[str, Any]:
    """Environment, Git, entry script hash, data and spec, with secrets redacted.

    ``warnings`` collects what the user should know (a capped diff, a repo
    with no commits); callers show them.
    """
    cwd = Path(cwd or Path.cwd())
    environment = capture_environment(cwd)
    git = capture_git(cwd, max_diff_bytes=max_diff_bytes)
    entry = entry_source.encode()
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pai_jupyter": __version__,
        "git": git,
        "environment": environment,
        "entry": {"name": entry_name, "sha256": hashlib.sha256(entry).hexdigest(), "bytes": len(entry)},
        "data": list(data_uris),
        "spec": spec or {},
        "warnings": list(git.get("warnings", [])),
    }
    # Package names like "keyring" or "tokenizers" are not secrets: keep them out of name-based redaction.
    packages = environment.pop("packages")
    record = redact(record, secret_values())
    record["environment"]["packages"] = packages
    return record
