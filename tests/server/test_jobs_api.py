"""The Jobs REST API over a real Jupyter server and a real local control plane with a running job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.helpers import expect_error, get_json, submit, wait_json

pytestmark = pytest.mark.slow


async def test_job_list_detail_metrics_logs_and_stop(jp_fetch: Any) -> None:
    older = submit(name="older-job", source="print('done')")
    record = submit(name="loss-job")
    listing = await wait_json(jp_fetch, ("jobs",), lambda d: len(d["jobs"]) == 2)
    assert [j["id"] for j in listing["jobs"]] == [record.id, older.id], "newest first"
    first = listing["jobs"][0]
    assert {"id", "name", "state", "backend", "created_at", "workers", "spec"} <= set(first)
    assert first["backend"] == "local" and first["spec"]["workers"] == 1

    filtered = await get_json(jp_fetch, "jobs", params={"name": "older-job"})
    assert [j["id"] for j in filtered["jobs"]] == [older.id]

    detail = await wait_json(jp_fetch, ("jobs", record.id), lambda d: d["job"]["state"] == "Running")
    summary = detail["provenance"]
    assert summary["available"] and summary["commit"] == "0123456789abcdef0123" and summary["dirty"] is True
    assert summary["frameworks"] == ["torch 2.13.0+cu121"] and summary["cuda"] == "12.1 (torch)"
    assert summary["python"] == "3.11.2"
    assert detail["advice"] == []

    metrics = await wait_json(
        jp_fetch,
        ("jobs", record.id, "metrics"),
        lambda d: sum(p["name"] == "loss" for p in d["metrics"]) >= 3,
        params={"name": "loss"},
    )
    losses = [p for p in metrics["metrics"] if p["name"] == "loss"]
    assert {"name", "value", "ts", "step", "worker", "source"} <= set(losses[0])
    assert losses[0]["value"] == pytest.approx(1.0 / losses[0]["step"])
    newest = max(p["ts"] for p in losses)
    later = await get_json(jp_fetch, "jobs", record.id, "metrics", params={"since": str(newest)})
    assert all(p["ts"] > newest for p in later["metrics"])

    logs = await wait_json(
        jp_fetch, ("jobs", record.id, "logs"), lambda d: "step 2" in d["text"], params={"tail": "5"}
    )
    assert logs["worker"] == 0 and len(logs["text"].strip().splitlines()) <= 5

    full = await get_json(jp_fetch, "jobs", record.id, "provenance")
    assert full["provenance"]["git"]["branch"] == "main" and full["summary"]["commit"]

    stopped = await get_json(jp_fetch, "jobs", record.id, "stop", method="POST", body="")
    assert stopped["job"]["id"] == record.id and stopped["job"]["state"] in ("Stopping", "Stopped")
    await wait_json(jp_fetch, ("jobs", record.id), lambda d: d["job"]["state"] == "Stopped")
    events = await get_json(jp_fetch, "jobs", record.id, "events")
    assert any(e["kind"] == "state" for e in events["events"])


async def test_errors_are_json_with_the_right_status(jp_fetch: Any) -> None:
    missing = await expect_error(jp_fetch, 404, "jobs", "j-doesnotexist")
    assert missing["type"] == "NotFoundError"
    await expect_error(jp_fetch, 404, "jobs", "j-doesnotexist", "stop", method="POST", body="")
    bad_limit = await expect_error(jp_fetch, 400, "jobs", params={"limit": "many"})
    assert "limit" in bad_limit["error"] and bad_limit["type"] == "ValidationError"
    bad_state = await expect_error(jp_fetch, 400, "jobs", params={"state": "Sleeping"})
    assert "Running" in bad_state["hint"]
    await expect_error(jp_fetch, 400, "jobs", "j-x", "metrics", params={"since": "yesterday"})
    unknown_backend = await expect_error(jp_fetch, 400, "jobs", params={"backend": "nimbus"})
    assert "nimbus" in unknown_backend["error"]

    record = submit(name="short", source="print('hi')")
    bad_worker = await expect_error(jp_fetch, 400, "jobs", record.id, "logs", params={"worker": "3"})
    assert "worker" in bad_worker["error"]

    await expect_error(jp_fetch, 400, "services", "svc", "rollout", "explode", method="POST", body="")
    no_version = await expect_error(jp_fetch, 400, "services", "svc", "rollback", method="POST", body="{}")
    assert "version" in no_version["error"]
    await expect_error(jp_fetch, 400, "services", "svc", "rollback", method="POST", body="not json")
    not_object = await expect_error(jp_fetch, 400, "services", "svc", "rollback", method="POST", body="[7]")
    assert "JSON object" in not_object["error"]
