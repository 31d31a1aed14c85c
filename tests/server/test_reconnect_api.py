"""The server extension after the control plane restarted: same answers, no "start the server"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.backends.local import ensure_server
from pai_jupyter.config import PaiConfig
from tests.conftest import stop_control_plane
from tests.server.helpers import get_json, submit, wait_json

pytestmark = pytest.mark.slow


async def test_the_jobs_api_answers_after_a_control_plane_restart(jp_fetch: Any, pai_home: Path) -> None:
    record = submit(name="survivor", source="print('done')")
    await wait_json(jp_fetch, ("jobs", record.id), lambda d: d["job"]["state"] == "Succeeded")
    before = ensure_server(PaiConfig())
    stop_control_plane(pai_home)
    after = ensure_server(PaiConfig())  # restarted by someone else: new port, new token
    assert (after["url"], after["token"]) != (before["url"], before["token"])
    listing = await get_json(jp_fetch, "jobs")
    assert [j["id"] for j in listing["jobs"]] == [record.id]
    detail = await get_json(jp_fetch, "jobs", record.id)
    assert detail["job"]["state"] == "Succeeded"
