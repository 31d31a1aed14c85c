"""The Jupyter server extension drives aliyun rollouts in the background: nobody watches the
rollout (no widget, no kernel thread, no sidebar request), and it still finishes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pai_jupyter.specs.service import RolloutPlan, ServiceSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.serving.models import onnx_linear

pytestmark = pytest.mark.slow
SIG4 = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []}


async def test_the_server_finishes_a_rollout_nobody_watches(
    jp_serverapp: Any, fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = jp_serverapp.extension_manager.extension_apps["pai_jupyter"]
    (ext,) = app if isinstance(app, set) else [app]
    assert ext.rollout_driver is not None  # started because the server's backend is aliyun
    serving = ext.context.backend().serving
    serving.tick = 0.1
    monkeypatch.setattr(serving, "_watch", lambda name: None)  # the deploying kernel is gone at once
    for name, seed in (("m1", 1), ("m2", 2)):
        onnx_linear(fakes.oss.path(BUCKET, f"models/{name}/model.onnx"), n_in=4, n_out=2, seed=seed)
    spec = ServiceSpec(name="bg-svc", processor="onnx", signature=SIG4)
    plan = RolloutPlan(steps=(20.0, 100.0), bake_s=0.2, min_requests=5, max_p95_ratio=1000)
    await asyncio.to_thread(serving.deploy, spec, f"oss://{BUCKET}/models/m1/")
    await asyncio.to_thread(serving.deploy, spec, f"oss://{BUCKET}/models/m2/", plan)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = await asyncio.to_thread(serving.get, "bg-svc")  # reads only: the server moves it
        if not record.rollout.active:
            break
        await asyncio.sleep(0.2)
    assert record.rollout.state == "succeeded" and record.weights == {2: 100.0}
    # the extension's driver reconciled it (the kernel's watcher is off and the test only reads)
    assert ext.rollout_driver._serving().driver_kind == "jupyter server"
    assert [e.kind for e in serving.events("bg-svc")].count("gate") == 2  # 20 % passed, then 100 % passed
