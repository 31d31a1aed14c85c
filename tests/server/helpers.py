"""Real jobs for the handler tests: a script that reports loss slowly, submitted to the local backend."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from pai_jupyter.backends.base import JobRecord
from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.storage.uri import OssUri

SLOW_LOSS = """
import time
from pai_jupyter import report
print("training starts", flush=True)
for step in range(1, 400):
    report(step=step, loss=1.0 / step)
    print(f"step {step}", flush=True)
    time.sleep(0.3)
"""

PROVENANCE: dict[str, Any] = {
    "git": {"is_repo": True, "commit": "0123456789abcdef0123", "branch": "main", "dirty": True},
    "environment": {
        "python": {"version": "3.11.2", "implementation": "CPython"},
        "frameworks": {"torch": {"version": "2.13.0+cu121", "build": "cu121", "cuda": "12.1"}},
        "cuda": None,
    },
}


def submit(source: str = SLOW_LOSS, name: str = "ext-job", provenance: dict[str, Any] | None = None) -> JobRecord:
    backend = LocalBackend(PaiConfig())
    spec = JobSpec(name=name)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / spec.entry).write_text(source)
        uri = backend.storage.upload(Path(tmp), OssUri("tests", f"code/{secrets.token_hex(4)}/"))
    return backend.training.submit(spec, str(uri), PROVENANCE if provenance is None else provenance)
