"""``GET /pai/api/jobs/ID`` carries the job's environment against the kernel's (CONTRACTS.md)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest

from tests.server.helpers import PROVENANCE, submit, wait_json

pytestmark = pytest.mark.slow


async def test_job_detail_lists_what_differs_from_the_kernel(jp_fetch: Any) -> None:
    kernel = {**PROVENANCE["environment"], "packages": {"numpy": "0.1"}}
    provenance = {
        **PROVENANCE,
        "environment": kernel,
        "env_sync": {"mode": "auto", "requirements": [], "distributions": {"numpy": "0.1"}},
    }
    record = submit(name="env-job", source="import numpy\nprint('ok')\n", provenance=provenance)
    detail = await wait_json(
        jp_fetch, ("jobs", record.id), lambda d: (d.get("environment") or {}).get("recorded") is True
    )
    env = detail["environment"]
    assert env["installed"] == []
    numpy = next(d for d in env["differs"] if d["name"] == "numpy")
    assert numpy == {
        "name": "numpy",
        "kernel": "0.1",
        "job": metadata.version("numpy"),
        "why": "the image's version",
    }
