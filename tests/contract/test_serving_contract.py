"""Serving face through the Service client: deploy a real ONNX model, predict, roll out a
second version, roll back, set the autoscaler, delete; the same on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pai_jupyter.api.services import deploy, get_service, services
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import NotFoundError
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan
from tests.serving.models import onnx_linear, onnx_weights

pytestmark = pytest.mark.slow

X = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 64)


@pytest.fixture
def fast_loops(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    for name, value in {
        "PAI_SERVING_AUTOSCALE_INTERVAL_S": "0.3",
        "PAI_SERVING_ROLLOUT_INTERVAL_S": "0.1",
        "PAI_SERVING_SNAPSHOT_INTERVAL_S": "1",
        "PAI_SERVING_QPS_WINDOW_S": "2",
        "PAI_SERVING_HEALTH_INTERVAL_S": "0.3",
    }.items():
        monkeypatch.setenv(name, value)
    if backend.id == "aliyun":
        backend.serving.tick = 0.1
    return backend


def test_service_lifecycle(fast_loops: Backend, tmp_path: Path) -> None:
    be = fast_loops
    first = onnx_linear(tmp_path / "a" / "model.onnx", seed=0)
    second = onnx_linear(tmp_path / "b" / "model.onnx", seed=1)
    svc = deploy("contract-svc", first, backend=be)
    record = svc.refresh()
    assert record.state == "Running" and record.backend == be.id
    assert record.weights == {1: 100.0} and record.serving_version == 1
    assert "/api/predict/contract" in record.endpoint
    assert record.versions[0].model_uri.startswith("oss://") and record.versions[0].processor == "onnx"
    assert len(svc.token()) >= 16
    w, b = onnx_weights(first)
    # The model's own answer on both backends (EAS: our model server in the container the fake runs).
    np.testing.assert_allclose(svc.predict(X)["outputs"], X @ w + b, rtol=1e-5)

    plan = RolloutPlan(steps=(50.0, 100.0), bake_s=0.2, min_requests=0, max_p95_ratio=1000)
    svc = deploy("contract-svc", second, plan=plan, backend=be)
    assert svc.record.rollout is not None and svc.record.rollout.to_version == 2
    rollout = svc.wait_rollout(timeout=60, poll=0.2)
    assert rollout is not None and rollout.state == "succeeded"
    assert [s.weight for s in rollout.steps][-1] == 100.0
    assert svc.refresh().weights == {2: 100.0}

    assert svc.rollback(1).record.weights == {1: 100.0}
    with pytest.raises(NotFoundError):
        svc.rollback(9)
    scaled = svc.set_autoscaler(AutoscalePolicy(min=1, max=3, qps_per_instance=20)).record
    assert scaled.autoscaler["max"] == 3 and scaled.autoscaler["qps_per_instance"] == 20
    kinds = {e.kind for e in svc.events()}
    assert {"deploy", "rollout"} <= kinds
    assert "contract-svc" in [s.name for s in services(backend=be)]
    # rolled back: v1 answers again
    np.testing.assert_allclose(get_service("contract-svc", backend=be).predict(X)["outputs"], X @ w + b, rtol=1e-5)
    w2, b2 = onnx_weights(second)
    np.testing.assert_allclose(svc.predict(X, version=2)["outputs"], X @ w2 + b2, rtol=1e-5)
    svc.delete()
    with pytest.raises(NotFoundError):
        be.serving.get("contract-svc")
