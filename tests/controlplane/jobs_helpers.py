"""Submitting real scripts to the local control plane without the client layer."""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.records import JobRecord
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.storage.uri import OssUri


def submit_script(backend: LocalBackend, source: str, spec: JobSpec, **kwargs: object) -> JobRecord:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / spec.entry).write_text(source)
        uri = backend.storage.upload(Path(tmp), OssUri("tests", f"code/{secrets.token_hex(4)}/"))
    return backend.training.submit(spec, str(uri), {"test": True}, **kwargs)  # type: ignore[arg-type]


def wait_for(backend: LocalBackend, job_id: str, states: set[str], timeout: float = 60) -> JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = backend.training.get(job_id)
        if record.state in states:
            return record
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {backend.training.get(job_id).state}, wanted {states}")
