"""The Endpoints REST API and push over a real Jupyter server and a real local service (ONNX, gateway, rollout)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.api import services as service_client
from pai_jupyter.specs.service import RolloutPlan
from tests.server.helpers import expect_error, get_json, next_message
from tests.serving.models import onnx_linear

pytestmark = pytest.mark.slow

# A rollout that holds at its first step until told otherwise.
HOLD = RolloutPlan(steps=(50.0, 100.0), bake_s=3600, min_requests=10**6)


@pytest.fixture
def fast_serving(pai_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAI_SERVING_SNAPSHOT_INTERVAL_S", "0.5")
    monkeypatch.setenv("PAI_SERVING_ROLLOUT_INTERVAL_S", "0.1")
    monkeypatch.setenv("PAI_SERVING_QPS_WINDOW_S", "2")
    return pai_home


async def test_services_rollout_actions_rollback_and_push(
    fast_serving: Path, tmp_path: Path, jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    service = service_client.deploy(
        "ext-svc", onnx_linear(tmp_path / "a" / "model.onnx", n_in=8, n_out=2, seed=0), processor="onnx"
    )
    for _ in range(5):
        service.predict([[0.5] * 8])

    listing = await get_json(jp_fetch, "services")
    [record] = listing["services"]
    assert record["name"] == "ext-svc" and record["weights"] == {"1": 100.0}
    assert {"state", "endpoint", "versions", "rollout", "autoscaler", "env", "backend"} <= set(record)
    assert record["versions"][0]["instances"] >= 1

    no_rollout = await expect_error(
        jp_fetch, 409, "services", "ext-svc", "rollout", "pause", method="POST", body=""
    )
    assert no_rollout["type"] == "ConflictError"
    await expect_error(jp_fetch, 404, "services", "no-such-svc")
    await expect_error(jp_fetch, 404, "services", "ext-svc", "rollback", method="POST", body='{"version": 7}')

    service_client.deploy(
        "ext-svc", onnx_linear(tmp_path / "b" / "model.onnx", n_in=8, n_out=2, seed=1), processor="onnx", plan=HOLD
    )
    detail = await get_json(jp_fetch, "services", "ext-svc")
    assert detail["service"]["weights"] == {"1": 50.0, "2": 50.0}
    assert detail["service"]["rollout"]["state"] == "running"

    paused = await get_json(jp_fetch, "services", "ext-svc", "rollout", "pause", method="POST", body="")
    assert paused["service"]["rollout"]["state"] == "paused"
    resumed = await get_json(jp_fetch, "services", "ext-svc", "rollout", "resume", method="POST", body="")
    assert resumed["service"]["rollout"]["state"] == "running"

    ws = await jp_ws_fetch("pai", "api", "push")
    try:
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["services", "service:ext-svc"]}))
        first = await next_message(ws, lambda m: m["type"] == "service")
        assert first["service"]["weights"] == {"1": 50.0, "2": 50.0}
        await next_message(ws, lambda m: m["type"] == "events" and any(e["kind"] == "deploy" for e in m["events"]))

        back = await get_json(jp_fetch, "services", "ext-svc", "rollback", method="POST", body='{"version": 1}')
        assert back["service"]["weights"] == {"1": 100.0}
        # The change is pushed (how fast is a benchmark figure, not asserted here; the deadline only catches a stall).
        pushed = await next_message(
            ws, lambda m: m["type"] == "service" and m["service"]["weights"] == {"1": 100.0}, timeout=30
        )
        assert pushed["topic"] == "service:ext-svc"
        rollback = await next_message(
            ws, lambda m: m["type"] == "events" and any(e["kind"] == "rollback" for e in m["events"]), timeout=5
        )
        assert rollback["topic"] == "service:ext-svc"

        for _ in range(5):
            await asyncio.get_running_loop().run_in_executor(None, service.predict, [[0.5] * 8])
        metrics = await next_message(ws, lambda m: m["type"] == "metrics" and m["points"], timeout=10)
        point = metrics["points"][-1]
        assert {"ts", "version", "qps", "p95_ms", "error_rate", "requests", "instances", "weight"} <= set(point)
    finally:
        ws.close()

    events = await get_json(jp_fetch, "services", "ext-svc", "events")
    kinds = {e["kind"] for e in events["events"]}
    assert {"deploy", "rollback"} <= kinds
    later = await get_json(jp_fetch, "services", "ext-svc", "metrics", params={"since": str(time.time() + 60)})
    assert later["metrics"] == []
