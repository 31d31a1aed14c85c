"""The Pipelines REST API over a real Jupyter server and the real local control plane."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.api.pipelines import Pipeline
from tests.server.helpers import expect_error, get_json, wait_json

sys.path.insert(0, str(Path(__file__).parents[1] / "pipelines"))
from scripts import write_scripts

pytestmark = pytest.mark.slow


async def test_list_show_run_pause_resume_delete(pai_home: Path, tmp_path: Path, jp_fetch: Any) -> None:
    write_scripts(tmp_path)
    Pipeline("rest-pipe", cwd=tmp_path).preprocess("hello.py").train(
        "hello.py", inputs={"data": "preprocess.output"}
    ).schedule("0 3 * * *").register()

    listed = await get_json(jp_fetch, "pipelines")
    assert [p["name"] for p in listed["pipelines"]] == ["rest-pipe"]
    assert listed["pipelines"][0]["dag"]["edges"] == [["preprocess", "train"]]

    started = await get_json(jp_fetch, "pipelines", "rest-pipe", "run", method="POST", body="{}")
    assert started["run"]["state"] in ("queued", "running") and started["run"]["number"] == 1
    done = await wait_json(
        jp_fetch,
        ("pipelines", "rest-pipe"),
        lambda d: d["runs"] and d["runs"][0]["state"] == "succeeded",
        timeout=60,
    )
    steps = done["runs"][0]["steps"]
    assert [s["name"] for s in steps] == ["preprocess", "train"]
    assert all(s["links"]["job"].startswith("job-") for s in steps)
    assert done["pipeline"]["spec"]["triggers"] == [{"type": "cron", "schedule": "0 3 * * *"}]

    paused = await get_json(jp_fetch, "pipelines", "rest-pipe", "pause", method="POST", body="")
    assert paused["pipeline"]["state"] == "paused" and paused["pipeline"]["next_run"] is None
    resumed = await get_json(jp_fetch, "pipelines", "rest-pipe", "resume", method="POST", body="")
    assert resumed["pipeline"]["state"] == "active" and resumed["pipeline"]["next_run"]

    await get_json(jp_fetch, "pipelines", "rest-pipe", method="DELETE")
    assert (await get_json(jp_fetch, "pipelines"))["pipelines"] == []
    missing = await expect_error(jp_fetch, 404, "pipelines", "rest-pipe")
    assert "no pipeline named 'rest-pipe'" in missing["error"]
