"""``jupyter pai deploy`` / ``jupyter pai services ...`` as subprocesses, as users run them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import run_cli as pai

pytestmark = pytest.mark.slow


def pai_json(*args: str) -> object:
    return json.loads(pai(*args, "--json").stdout)


def test_deploy_and_manage_a_service_from_the_terminal(
    serving_env: Path, onnx_model: Path, onnx_model_b: Path, tmp_path: Path
) -> None:
    record = pai_json("deploy", "digits-svc", "--model", str(onnx_model), "--min", "1", "--max", "3")
    assert isinstance(record, dict)
    assert record["name"] == "digits-svc" and record["weights"] == {"1": 100.0}
    assert record["autoscaler"]["max"] == 3
    endpoint = record["endpoint"]

    # The token from the CLI works for plain HTTP, the way any client calls EAS.
    token = pai_json("services", "token", "digits-svc")["token"]  # type: ignore[index]
    assert pai("services", "token", "digits-svc").stdout.strip() == token
    x = np.zeros((1, 64)).tolist()
    resp = requests.post(endpoint, json={"inputs": x}, headers={"Authorization": token}, timeout=30)
    assert resp.status_code == 200 and resp.headers["X-PAI-Version"] == "1"
    assert requests.post(endpoint, json={"inputs": x}, timeout=30).status_code == 401

    listed = pai_json("services", "list")
    assert [s["name"] for s in listed["services"]] == ["digits-svc"] and listed["total"] == 1  # type: ignore[index]
    assert listed["services"][0]["actions"] == ["delete"]  # type: ignore[index]
    assert pai_json("services", "list", "--search", "nothing-like-it")["total"] == 0  # type: ignore[index]
    text = pai("services", "list").stdout
    assert "digits-svc" in text and "v1 100%" in text and "Showing 1 of 1 service." in text
    shown = pai("services", "show", "digits-svc").stdout
    assert "v1" in shown and "autoscaler: 1-3 instances" in shown
    assert pai_json("services", "rollout", "digits-svc") is None
    assert "No rollout yet" in pai("services", "rollout", "digits-svc").stdout

    # v2 through a one-step plan, waited for.
    out = pai(
        "deploy",
        "digits-svc",
        "--model",
        str(onnx_model_b),
        "--plan",
        "100",
        "--bake",
        "0",
        "--min-requests",
        "0",
        "--wait",
    ).stdout
    assert "rollout v1 -> v2 succeeded" in out
    rollout = pai_json("services", "rollout", "digits-svc", "status")
    assert rollout["state"] == "succeeded" and rollout["to_version"] == 2  # type: ignore[index]

    # v3 with a bake that holds: steer it from the terminal.
    pai("deploy", "digits-svc", "--model", str(onnx_model), "--plan", "10,100", "--bake", "10m")
    paused = pai_json("services", "rollout", "digits-svc", "pause")
    assert paused["state"] == "paused"  # type: ignore[index]
    aborted = pai_json("services", "rollout", "digits-svc", "abort")
    assert aborted["state"] == "aborted"  # type: ignore[index]

    back = pai_json("services", "rollback", "digits-svc", "--to", "1")
    assert back["weights"] == {"1": 100.0}  # type: ignore[index]
    resp = requests.post(endpoint, json={"inputs": x}, headers={"Authorization": token}, timeout=30)
    assert resp.headers["X-PAI-Version"] == "1"

    events = pai_json("services", "events", "digits-svc")
    kinds = {e["kind"] for e in events}  # type: ignore[union-attr]
    assert {"deploy", "rollout"} <= kinds
    assert "MESSAGE" in pai("services", "events", "digits-svc").stdout
    metrics = pai_json("services", "metrics", "digits-svc")
    assert isinstance(metrics, list)

    # Bad input: one line on stderr, exit 2.
    bad = pai("services", "rollback", "digits-svc", "--to", "9", check=False)
    assert bad.returncode == 2 and "no version 9" in bad.stderr and "Traceback" not in bad.stderr
    bad = pai("deploy", "digits-svc", "--model", str(onnx_model), "--env", "prod", "--min", "0", check=False)
    assert bad.returncode == 2 and "prod services need --min 1 or more" in bad.stderr

    deleted = pai_json("services", "delete", "digits-svc", "--yes")
    assert deleted == {"name": "digits-svc", "deleted": True}
    gone = pai("services", "show", "digits-svc", check=False)
    assert gone.returncode == 2 and "digits-svc" in gone.stderr
    assert (
        requests.post(endpoint, json={"inputs": x}, headers={"Authorization": token}, timeout=30).status_code
        == 404
    )
