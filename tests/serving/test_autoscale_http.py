"""Autoscaling and instance failures over real HTTP: from zero, out under load, in after cooldown, crashes."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from pai_jupyter.specs.service import AutoscalePolicy
from tests.conftest import wait_until
from tests.serving.helpers import Load, deploy, post

pytestmark = pytest.mark.slow

BODY = json.dumps({"inputs": np.full((1, 64), 0.5).tolist()}).encode()


def _ready(backend, name: str = "svc", version: int = 1) -> list[dict]:
    live = backend.serving.live(name)
    return [i for i in live["versions"][str(version)]["instances"] if i["state"] == "ready"]


def test_scale_from_zero_serves_queued_requests_then_back_to_zero(backend, onnx_model: Path) -> None:
    policy = AutoscalePolicy(min=0, max=2, qps_per_instance=50, scale_to_zero=True, idle_grace_s=2.0)
    record = deploy(backend, onnx_model, instances=0, autoscaler=policy)
    assert record.versions[0].instances == 0 and record.state == "Running"
    token = backend.serving.token("svc")

    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: post(record, token, {"inputs": [[0.5] * 64]}), range(5)))
    answered = time.time()
    # Every queued request is answered (how soon is a benchmark figure, not asserted here), and in
    # this order: the requests were queued, an instance was activated, then it answered them.
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    events = backend.serving.events("svc")
    activation = next(e for e in events if e.kind == "scale" and "activate 0 -> 1" in e.message)
    assert activation.data["queued"] >= 1
    assert activation.ts <= answered

    # Idle for the grace period: back to zero, and the decision says why.
    wait_until(lambda: not _ready(backend), timeout=20, what="scale to zero")
    zero = [e for e in backend.serving.events("svc") if e.kind == "scale" and "scale to zero" in e.message]
    assert zero and zero[-1].data["idle_grace_s"] == 2.0
    assert backend.serving.get("svc").versions[0].desired_instances == 0


def test_scale_out_under_load_and_in_after_cooldown(backend, onnx_model: Path) -> None:
    policy = AutoscalePolicy(min=1, max=3, qps_per_instance=15, scale_in_cooldown_s=2.0)
    record = deploy(backend, onnx_model, autoscaler=policy)
    token = backend.serving.token("svc")
    with Load(record.endpoint, token, BODY, threads=3, pause=0.02) as load:
        wait_until(lambda: len(_ready(backend)) >= 2, timeout=30, what="scale out")
    assert load.failures == []
    out = [e for e in backend.serving.events("svc") if e.kind == "scale" and e.message.startswith("scale out")]
    assert out and out[0].data["qps"] > 15 * 1.1 and out[0].data["target"] >= 2
    # No traffic: after the cooldown it scales in to the minimum.
    wait_until(lambda: len(_ready(backend)) == 1, timeout=30, what="scale in")
    scale_in = [e for e in backend.serving.events("svc") if e.kind == "scale" and e.message.startswith("scale in")]
    assert scale_in and scale_in[-1].data["target"] == 1
    assert scale_in[0].ts - out[-1].ts >= 2.0  # the cooldown held


def test_instance_crash_under_load_is_routed_around_and_replaced(backend, onnx_model: Path) -> None:
    record = deploy(backend, onnx_model, instances=2)
    token = backend.serving.token("svc")
    before = {i["pid"] for i in _ready(backend)}
    assert len(before) == 2
    with Load(record.endpoint, token, BODY, threads=3) as load:
        wait_until(lambda: len(load.results) > 30, what="load")
        victim = sorted(before)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: len(_ready(backend)) == 2 and victim not in {i["pid"] for i in _ready(backend)},
            timeout=30,
            what="replacement",
        )
        count = len(load.results)
        wait_until(lambda: len(load.results) > count + 30, what="load after replacement")
    assert load.failures == [], load.failures[:5]
    assert any(e.kind == "instance" and "exited with code -9" in e.message for e in backend.serving.events("svc"))


def test_only_instance_crash_holds_requests_until_replaced(backend, onnx_model: Path) -> None:
    record = deploy(backend, onnx_model, instances=1)
    token = backend.serving.token("svc")
    pid = _ready(backend)[0]["pid"]
    os.kill(pid, signal.SIGKILL)
    resp = requests.post(record.endpoint, data=BODY, headers={"Authorization": token}, timeout=30)
    assert resp.status_code == 200, resp.text
    wait_until(lambda: _ready(backend) and _ready(backend)[0]["pid"] != pid, what="replacement")


def test_set_autoscaler_and_metrics(backend, onnx_model: Path) -> None:
    record = deploy(backend, onnx_model)
    token = backend.serving.token("svc")
    for _ in range(20):
        assert post(record, token, {"inputs": [[0.5] * 64]}).status_code == 200
    record = backend.serving.set_autoscaler("svc", AutoscalePolicy(min=2, max=2))
    assert record.autoscaler["min"] == 2
    wait_until(lambda: len(_ready(backend)) == 2, what="min raised to 2")
    points = wait_until(lambda: backend.serving.metrics("svc"), what="metric snapshots")
    assert any(p.requests > 0 and p.p50_ms for p in points)
    with pytest.raises(Exception) as info:
        backend.serving.set_autoscaler("svc", AutoscalePolicy(min=3, max=2))
    assert "--min 3 is above --max 2" in str(info.value)


def test_crashed_control_plane_leaves_no_instance_behind(backend, serving_env, onnx_model: Path) -> None:
    import psutil

    from pai_jupyter.backends.local import LocalBackend
    from pai_jupyter.config import PaiConfig

    deploy(backend, onnx_model, instances=2)
    old = {i["pid"] for i in _ready(backend)}
    plane = backend.server_info()["pid"]
    os.kill(plane, signal.SIGKILL)
    wait_until(
        lambda: not psutil.pid_exists(plane) or psutil.Process(plane).status() == "zombie", what="plane gone"
    )
    backend.close()
    again = LocalBackend(PaiConfig())  # starts a new control plane on the same state
    try:
        wait_until(lambda: len(_ready(again)) == 2, what="instances restarted")
        assert not old & {i["pid"] for i in _ready(again)}
        alive = [p for p in old if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        assert alive == [], "the dead control plane's instances were not killed"
        record = again.serving.get("svc")
        assert post(record, again.serving.token("svc"), {"inputs": [[0.5] * 64]}).status_code == 200
    finally:
        again.close()
