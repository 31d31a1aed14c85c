"""Helpers for the handler tests: real jobs and models on the local backend, JSON over jp_fetch, push messages."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.records import JobRecord
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


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("pai", "api", *parts, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def wait_json(
    jp_fetch: Any, parts: tuple[str, ...], predicate: Any, timeout: float = 30, **kwargs: Any
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        data = await get_json(jp_fetch, *parts, **kwargs)
        if predicate(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out on {parts}: last answer {data}")
        await asyncio.sleep(0.2)


async def expect_error(jp_fetch: Any, status: int, *parts: str, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("pai", "api", *parts, **kwargs)
    assert err.value.code == status
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert body["error"] and "hint" in body
    return body


async def next_message(ws: Any, predicate: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching push message in time")
        raw = await asyncio.wait_for(ws.read_message(), remaining)
        assert raw is not None, "the push socket closed"
        message = json.loads(raw)
        if predicate(message):
            return message
