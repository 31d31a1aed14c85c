"""Long histories and long runs through the REST API and the push socket: a real Jupyter server, a real
control plane, its real SQLite seeded through the store's batch API before the control plane starts."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.controlplane.db import Database
from pai_jupyter.controlplane.jobs.store import JobStore
from pai_jupyter.records import MetricPoint
from pai_jupyter.specs.job import JobSpec
from tests.conftest import run_cli
from tests.server.helpers import expect_error, get_json, next_message, wait_json

pytestmark = pytest.mark.slow

HISTORY = 130
STEPS = 30_000
T0 = 1.7e9


def _loss(step: int) -> float:
    return 1.0 / (1 + step / 1000) + (0.5 if step == 17_001 else 0.0)


@pytest.fixture
def seeded(pai_home: Path) -> str:
    """130 finished jobs (every tenth xgboost, every third Failed) and one with 30,000 loss steps."""
    db = Database(pai_home / "state.sqlite")
    store = JobStore(db)
    jobs = []
    for i in range(HISTORY):
        spec = JobSpec(name=f"hist-{i:04d}", framework="xgboost" if i % 10 == 0 else "pytorch")
        jobs.append((f"j-hist-{i:04d}", spec, T0 + i * 60, "Failed" if i % 3 == 0 else "Succeeded"))
    jobs.append(("j-big", JobSpec(name="big-run"), time.time(), "Succeeded"))  # ended now: kept raw
    store.create_many(jobs)
    # Ended in 2023, past the 30-day retention: the control plane compacts it when it starts.
    store.add_metrics("j-hist-0005", [MetricPoint("loss", 1.0 / (s + 1), T0 + s, s) for s in range(5_000)])
    for lo in range(0, STEPS, 10_000):
        store.add_metrics(
            "j-big",
            [MetricPoint("loss", _loss(s), T0 + s * 0.1, s, 0, "report") for s in range(lo, lo + 10_000)],
        )
    db.close()
    return "j-big"


async def test_history_pages_total_and_search_beyond_the_first_page(jp_fetch: Any, seeded: str) -> None:
    first = await get_json(jp_fetch, "jobs", params={"limit": "50"})
    assert first["total"] == HISTORY + 1 and len(first["jobs"]) == 50 and first["next"]
    assert first["jobs"][0]["id"] == "j-big" and first["jobs"][0]["actions"] == ["reproduce"]
    seen, cursor = [j["id"] for j in first["jobs"]], first["next"]
    while cursor:
        page = await get_json(jp_fetch, "jobs", params={"limit": "50", "cursor": cursor})
        assert page["total"] == HISTORY + 1
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next"]
    assert seen == ["j-big"] + [f"j-hist-{i:04d}" for i in reversed(range(HISTORY))]

    old = await get_json(jp_fetch, "jobs", params={"q": "HIST-0002"})  # 128 jobs newer than it
    assert [j["id"] for j in old["jobs"]] == ["j-hist-0002"] and old["total"] == 1 and old["next"] is None
    failed_xgb = await get_json(jp_fetch, "jobs", params={"state": "Failed", "framework": "xgboost", "limit": "3"})
    expected = [i for i in range(HISTORY) if i % 3 == 0 and i % 10 == 0]
    assert failed_xgb["total"] == len(expected) and len(failed_xgb["jobs"]) == 3
    assert all(j["state"] == "Failed" and j["spec"]["framework"] == "xgboost" for j in failed_xgb["jobs"])
    window = await get_json(jp_fetch, "jobs", params={"since": str(T0 + 600), "until": str(T0 + 1200)})
    assert [j["id"] for j in window["jobs"]] == [f"j-hist-{i:04d}" for i in range(19, 9, -1)]
    none = await get_json(jp_fetch, "jobs", params={"experiment": "no-such-experiment"})
    assert none == {"jobs": [], "total": 0, "next": None}
    bad = await expect_error(jp_fetch, 400, "jobs", params={"cursor": "not-a-cursor!"})
    assert "cursor" in bad["error"]
    refused = await expect_error(jp_fetch, 409, "jobs", "j-hist-0001", "stop", method="POST", body="")
    assert refused["error"] == "job j-hist-0001 is Succeeded: it cannot stop now"

    text = run_cli("jobs", "list", "--limit", "5", "--search", "hist-00").stdout
    assert "hist-0099" in text and "hist-0094" not in text
    assert "Showing 5 of 100 jobs; next page: --before " in text
    cursor = text.rsplit("--before ", 1)[1].strip().rstrip(".")
    nxt = json.loads(
        run_cli("jobs", "list", "--limit", "5", "--search", "hist-00", "--before", cursor, "--json").stdout
    )
    assert [j["name"] for j in nxt["jobs"]] == [f"hist-{i:04d}" for i in range(94, 89, -1)]
    paged = json.loads(run_cli("jobs", "list", "--limit", "10", "--page", "13", "--json").stdout)
    assert [j["id"] for j in paged["jobs"]] == [f"j-hist-{i:04d}" for i in range(10, 0, -1)]


async def test_metrics_range_budget_summary_zoom_and_stream(jp_fetch: Any, seeded: str) -> None:
    whole = await get_json(jp_fetch, "jobs", seeded, "metrics", params={"name": "loss", "points": "400"})
    assert whole["downsampled"] is True and 50 < len(whole["metrics"]) <= 400
    steps = [p["step"] for p in whole["metrics"]]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == STEPS - 1
    assert max(p["value"] for p in whole["metrics"]) == 1.0  # the first point, the true max
    assert any(p["step"] == 17_001 for p in whole["metrics"])  # the spike is kept
    summary = whole["summary"]["loss"]
    assert summary["count"] == STEPS and summary["first_step"] == 0 and summary["last_step"] == STEPS - 1
    assert summary["first"] == 1.0 and summary["last"] == pytest.approx(_loss(STEPS - 1))
    assert summary["min"] == pytest.approx(_loss(STEPS - 1)) and summary["max"] == 1.0

    zoom = await get_json(
        jp_fetch,
        "jobs",
        seeded,
        "metrics",
        params={"name": "loss", "start": "1000", "end": "1500", "points": "1000"},
    )
    assert zoom["downsampled"] is False and [p["step"] for p in zoom["metrics"]] == list(range(1000, 1501))
    assert zoom["summary"]["loss"]["count"] == STEPS

    response = await jp_fetch("pai", "api", "jobs", seeded, "metrics", params={"all": "1"})
    every = json.loads(response.body)
    assert len(every["metrics"]) == STEPS and every["downsampled"] is False
    assert {p["step"] for p in every["metrics"]} == set(range(STEPS))
    await expect_error(jp_fetch, 400, "jobs", seeded, "metrics", params={"points": "2"})
    bad_start = await expect_error(jp_fetch, 400, "jobs", seeded, "metrics", params={"start": "soon"})
    assert bad_start["error"] == "start must be a step (epoch seconds for system metrics), got 'soon'"

    cli = json.loads(
        run_cli("jobs", "metrics", seeded, "--points", "100", "--start", "0", "--end", "999", "--json").stdout
    )
    assert len(cli["metrics"]) <= 100 and cli["metrics"][-1]["step"] == 999
    table = run_cli("jobs", "metrics", seeded).stdout
    assert "30,000" in table and "0-29999" in table


async def test_push_first_metrics_message_is_the_whole_range_downsampled(jp_ws_fetch: Any, seeded: str) -> None:
    ws = await jp_ws_fetch("pai", "api", "push")
    try:
        started = time.monotonic()
        await ws.write_message(json.dumps({"type": "subscribe", "topics": [f"job:{seeded}"]}))
        first = await next_message(ws, lambda m: m["type"] == "metrics")
        assert first["reset"] is True and 0 < len(first["points"]) <= 1000
        assert first["summary"]["loss"]["count"] == STEPS
        steps = [p["step"] for p in first["points"]]
        assert steps[0] == 0 and steps[-1] == STEPS - 1
        assert not math.isnan(time.monotonic() - started)
    finally:
        ws.close()


async def test_old_finished_jobs_are_compacted_and_keep_their_summary(jp_fetch: Any, seeded: str) -> None:
    params = {"name": "loss", "start": "0", "end": "100", "points": "1000"}
    found = await wait_json(
        jp_fetch, ("jobs", "j-hist-0005", "metrics"), lambda d: d["downsampled"], params=params
    )
    steps = [p["step"] for p in found["metrics"]]
    assert steps[0] == 0 and all(s <= 111 for s in steps)  # 16-step buckets stand in for the raw points
    assert found["summary"]["loss"]["count"] == 5_000 and found["summary"]["loss"]["last"] == 1 / 5_000
    whole = await get_json(jp_fetch, "jobs", "j-hist-0005", "metrics", params={"name": "loss", "points": "200"})
    assert whole["metrics"][0]["value"] == 1.0 and whole["metrics"][-1]["step"] == 4_999
    recent = await get_json(jp_fetch, "jobs", seeded, "metrics", params=params)
    assert recent["downsampled"] is False  # ended now: every raw point is still there
