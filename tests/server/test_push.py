"""The push websocket delivers job changes (state, new metric points, log lines) without polling by the browser."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from tests.server.helpers import next_message, submit

pytestmark = pytest.mark.slow


async def test_push_sends_jobs_then_each_new_loss_point_once_and_in_order(jp_ws_fetch: Any) -> None:
    record = submit(name="pushed")
    ws = await jp_ws_fetch("pai", "api", "push")
    try:
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["jobs", f"job:{record.id}"]}))
        listing = await next_message(ws, lambda m: m["type"] == "jobs")
        assert listing["topic"] == "jobs" and listing["jobs"][0]["id"] == record.id
        job = await next_message(ws, lambda m: m["type"] == "job")
        assert job["topic"] == f"job:{record.id}" and job["provenance"]["commit"]

        def loss_points(m: dict[str, Any]) -> list[dict[str, Any]]:
            return [p for p in m.get("points", []) if p["name"] == "loss"] if m["type"] == "metrics" else []

        first = await next_message(ws, lambda m: bool(loss_points(m)))
        seen = {p["step"] for p in loss_points(first)}
        # Each new point arrives once and in order; how soon after it was reported is a benchmark figure
        # (push latency, benchmarks/), not a test assertion: a generous deadline only catches a stall.
        for _ in range(5):
            message = await next_message(ws, lambda m: bool(loss_points(m)), timeout=30)
            steps = {p["step"] for p in loss_points(message)}
            assert not steps & seen, "a point was pushed twice"
            assert min(steps) > max(seen), f"steps {sorted(steps)} pushed after {max(seen)}"
            seen |= steps
        assert sorted(seen) == list(range(1, max(seen) + 1)), "no point was skipped"

        logs = await next_message(ws, lambda m: m["type"] == "logs")
        assert "training starts" in logs["text"]
        # Narrowing the subscription stops the job topic.
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["jobs"]}))
        await asyncio.sleep(0.3)
    finally:
        ws.close()


async def test_bad_subscriptions_get_an_error_message(jp_ws_fetch: Any) -> None:
    ws = await jp_ws_fetch("pai", "api", "push")
    try:
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["weather"]}))
        error = await next_message(ws, lambda m: m["type"] == "error")
        assert "weather" in error["error"] and error["hint"]
        await ws.write_message("{not json")
        error = await next_message(ws, lambda m: m["type"] == "error")
        assert "JSON" in error["error"]
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["job:j-missing"]}))
        missing = await next_message(ws, lambda m: m["type"] == "error")
        assert missing["topic"] == "job:j-missing" and missing["error_type"] == "NotFoundError"
    finally:
        ws.close()


async def test_the_subscription_interval_sets_how_often_metrics_are_pushed(jp_ws_fetch: Any) -> None:
    """The sidebar's refreshSeconds setting: a slower cadence batches the 0.3 s reports."""
    record = submit(name="paced")
    ws = await jp_ws_fetch("pai", "api", "push")
    try:
        topics = [f"job:{record.id}"]
        await ws.write_message(json.dumps({"type": "subscribe", "topics": topics, "interval": 1.5}))

        def loss_steps(m: dict[str, Any]) -> list[int]:
            return (
                [p["step"] for p in m.get("points", []) if p["name"] == "loss"] if m["type"] == "metrics" else []
            )

        await next_message(ws, lambda m: bool(loss_steps(m)), timeout=30)
        arrivals, sizes = [], []
        for _ in range(3):
            message = await next_message(ws, lambda m: bool(loss_steps(m)), timeout=30)
            arrivals.append(asyncio.get_running_loop().time())
            sizes.append(len(loss_steps(message)))
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        # One push per 1.5 s carries the ~5 points reported meanwhile (at the default 0.1 s: one each).
        assert min(gaps) > 1.0, gaps
        assert max(sizes) >= 3, sizes

        await ws.write_message(json.dumps({"type": "subscribe", "topics": topics, "interval": "often"}))
        error = await next_message(ws, lambda m: m["type"] == "error")
        assert "'interval' must be a number of seconds" in error["error"] and error["hint"]
    finally:
        ws.close()
