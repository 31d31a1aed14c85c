"""The Service client end to end against the real local control plane.

Models come from a local file, an ``oss://`` URI and a training job's output;
predictions go over real HTTP through the gateway, with the plain token and
with the eas-prediction signature form.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from models import onnx_weights

from pai_jupyter.api import jobs as client
from pai_jupyter.api.services import PredictError, Service, deploy, get_service, services
from pai_jupyter.errors import NotFoundError, ValidationError
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan

pytestmark = pytest.mark.slow

X = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 64)


def expected(model: Path) -> np.ndarray:
    w, b = onnx_weights(model)
    return X @ w + b


class Load:
    """Steady background requests through a Service, counting failures."""

    def __init__(self, name: str) -> None:
        self.svc = Service(name)
        self.stop = threading.Event()
        self.ok = self.failed = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.svc.predict(X)
                self.ok += 1
            except Exception:
                self.failed += 1

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.svc.close()


def test_deploy_local_file_predict_rollout_rollback_delete(
    serving_env: Path, workdir: Path, onnx_model: Path, onnx_model_b: Path
) -> None:
    uploads: list[tuple[int, int]] = []
    svc = deploy("digits-svc", onnx_model, progress=lambda done, total: uploads.append((done, total)))
    assert uploads and uploads[-1][0] == uploads[-1][1] == onnx_model.stat().st_size
    record = svc.record
    assert record.state == "Running" and record.weights == {1: 100.0}
    assert record.endpoint.endswith("/api/predict/digits-svc")
    (v1,) = record.versions
    assert v1.processor == "onnx"  # inferred from .onnx
    assert "/pai-jupyter/models/digits-svc/" in v1.model_uri

    # JSON in and out; numpy arrays are accepted; the signed form gives the same answer.
    out = svc.predict(X)
    np.testing.assert_allclose(out["outputs"], expected(onnx_model), rtol=1e-5)
    signed = svc.predict({"inputs": X.tolist()}, signed=True)
    assert signed == out
    raw = svc.predict(b'{"inputs": [[' + b",".join([b"0"] * 64) + b"]]}", raw=True)
    assert isinstance(raw, bytes) and b"outputs" in raw
    assert len(svc.token()) >= 16

    # Errors come back as PaiErrors with the status and body.
    with pytest.raises(PredictError) as info:
        svc.predict([[1.0, 2.0]])  # wrong width
    assert info.value.status == 400 and b"error" in info.value.body
    wrong = Service("digits-svc")
    wrong._token = "not-the-token"
    with pytest.raises(PredictError) as info:
        wrong.predict(X)
    assert info.value.status == 403 and "token" in (info.value.hint or "")
    with pytest.raises(PredictError) as info:
        wrong.predict(X, signed=True)
    assert info.value.status == 403

    # Version 2 rolls out under load, with no failed request.
    plan = RolloutPlan(steps=(10, 50, 100), bake_s=0.5, min_requests=10)
    with Load("digits-svc") as load:
        svc2 = deploy("digits-svc", onnx_model_b, plan=plan)
        assert svc2.record.rollout is not None and svc2.record.rollout.to_version == 2
        seen: list[dict[int, float]] = []
        final = svc2.wait_rollout(timeout=60, on_update=lambda r: seen.append(r.weights))
    assert final is not None and final.state == "succeeded", final
    assert load.failed == 0 and load.ok > 0
    assert svc.refresh().weights == {2: 100.0}
    np.testing.assert_allclose(svc.predict(X)["outputs"], expected(onnx_model_b), rtol=1e-5)
    assert [s.result for s in final.steps] == ["passed", "passed", "passed"]

    # Figures and history.
    points = svc.metrics()
    assert {p.version for p in points} >= {1, 2}
    kinds = {e.kind for e in svc.events()}
    assert {"deploy", "rollout", "gate"} <= kinds

    # Roll back to v1; the answers are v1's again.
    svc.rollback(1)
    assert svc.record.weights == {1: 100.0}
    np.testing.assert_allclose(svc.predict(X)["outputs"], expected(onnx_model), rtol=1e-5)

    assert [r.name for r in services()] == ["digits-svc"]
    svc.delete()
    with pytest.raises(NotFoundError):
        get_service("digits-svc")


def test_deploy_from_an_oss_uri_and_from_a_job(serving_env: Path, workdir: Path, onnx_model: Path) -> None:
    uri = client.upload(onnx_model.parent, "oss://models/digits/v7/")
    svc = deploy("from-uri", uri, autoscaler=AutoscalePolicy(min=1, max=2, qps_per_instance=100))
    assert svc.record.versions[0].processor == "onnx"
    assert svc.record.versions[0].model_uri == uri
    assert svc.record.autoscaler["max"] == 2
    np.testing.assert_allclose(svc.predict(X)["outputs"], expected(onnx_model), rtol=1e-5)

    # A training job whose output is the model.
    from pai_jupyter.specs.job import JobSpec

    script = (
        "import os, shutil\n"
        f"shutil.copy({str(onnx_model)!r}, os.path.join(os.environ['PAI_OUTPUT_MODEL'], 'model.onnx'))\n"
    )
    job = client.submit(script, JobSpec(name="export-digits"), cwd=workdir).wait(timeout=120)
    svc_job = deploy("from-job", job.id)
    (v1,) = svc_job.record.versions
    assert v1.job_id == job.id
    assert v1.model_uri == job.outputs["model"]
    np.testing.assert_allclose(svc_job.predict(X)["outputs"], expected(onnx_model), rtol=1e-5)

    # A URI with nothing behind it, and a job that never was.
    with pytest.raises(NotFoundError, match="nothing found"):
        deploy("nothing", "oss://models/nothing-here/")
    with pytest.raises(NotFoundError, match="not a local file or folder, an oss:// URI or a job id"):
        deploy("nothing", "dlc-does-not-exist")
    for name in ("from-uri", "from-job"):
        Service(name).delete()


def test_pause_resume_abort_and_autoscaler(
    serving_env: Path, workdir: Path, onnx_model: Path, onnx_model_b: Path
) -> None:
    svc = deploy("ctl-svc", onnx_model)
    svc2 = deploy("ctl-svc", onnx_model_b, plan=RolloutPlan(steps=(20, 100), bake_s=120, min_requests=1))
    rollout = svc2.record.rollout
    assert rollout is not None and rollout.state == "running"
    assert svc.pause().record.rollout.state == "paused"  # type: ignore[union-attr]
    assert svc.resume().record.rollout.state == "running"  # type: ignore[union-attr]
    svc.abort()
    assert svc.record.rollout.state == "aborted"  # type: ignore[union-attr]
    assert svc.record.weights == {1: 100.0}
    assert svc.wait_rollout(timeout=5).state == "aborted"  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="rollout action 'explode' is unknown"):
        svc.rollout_action("explode")

    svc.set_autoscaler(AutoscalePolicy(min=1, max=3, qps_per_instance=10))
    assert svc.record.autoscaler["max"] == 3
    with pytest.raises(ValidationError, match="--min 3 is above --max 2"):
        svc.set_autoscaler(AutoscalePolicy(min=3, max=2))
    svc.delete()


def test_custom_processor_bytes_and_scale_from_zero(serving_env: Path, workdir: Path, onnx_model: Path) -> None:
    from models import custom_app

    app = custom_app(workdir / "echo-app", tag="echo")
    svc = deploy("echo", app, command=f"{sys.executable} app.py")  # --command implies custom
    assert svc.record.versions[0].processor == "custom"
    answer = svc.predict(b"\x00raw bytes\xff")
    assert isinstance(answer, bytes)
    reply = json.loads(answer)
    assert reply["tag"] == "echo" and reply["echo"] == "\x00raw bytes\xff"
    assert json.loads(svc.predict(b"x", signed=True))["echo"] == "x"
    svc.delete()

    # Starts at zero instances; the first request waits for one instead of failing.
    cold = deploy(
        "cold",
        onnx_model,
        instances=0,
        autoscaler=AutoscalePolicy(min=0, max=2, scale_to_zero=True, idle_grace_s=600),
    )
    assert cold.record.versions[0].desired_instances == 0
    np.testing.assert_allclose(cold.predict(X)["outputs"], expected(onnx_model), rtol=1e-5)
    assert cold.refresh().versions[0].instances >= 1
    assert any(e.kind == "scale" and "activate" in e.message for e in cold.events())
    cold.delete()
