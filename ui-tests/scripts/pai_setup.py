"""Test data for the UI tests, made through the client API against the local backend.

``submit-job``  a real job (in a small Git repo with an uncommitted change, so the
                provenance summary has a commit and the dirty flag) that reports a
                falling loss every 0.5 s; prints {"id": ...}.
``deploy-v1``   a real ONNX model served as version 1 of ``digits-svc``; prints the endpoint.
``start-rollout`` version 2 of ``digits-svc`` by blue-green rollout (10 -> 50 -> 100 %,
                short bakes) with steady traffic from a background load process.
``advise ID``   record on job ID the advice the runner gives a GPU job whose GPUs idle at
                ~40 % (input-bound); these machines have no GPU to produce it for real.
``load NAME S`` send requests to NAME for S seconds (the background load itself).
``stop``        stop every job still running and the control plane.
``pipeline-gated`` a pipeline train -> eval -> deploy whose one run stops at the gate.

Each command prints one JSON line last. PAI_JUPYTER_HOME selects the backend's state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = """\
import time
from pai_jupyter import report

print("epoch 1: loading digits", flush=True)
for step in range(1, 241):
    loss = 2.3 / (1 + 0.15 * step)
    report(step=step, loss=loss)
    if step % 5 == 0:
        print(f"step {step} loss {loss:.4f}", flush=True)
    time.sleep(0.5)
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def submit_job() -> dict[str, str]:
    from pai_jupyter.api.jobs import submit
    from pai_jupyter.specs.job import JobSpec

    repo = Path(tempfile.mkdtemp(prefix="pai-ui-repo-"))
    _git(repo, "init", "-q", "-b", "main")
    (repo / "model.py").write_text("HIDDEN = 64\n")
    _git(repo, "add", "model.py")
    _git(repo, "-c", "user.name=UI Tests", "-c", "user.email=ui@example.com", "commit", "-q", "-m", "model")
    (repo / "model.py").write_text("HIDDEN = 128  # trying a wider layer\n")
    spec = JobSpec(name="digits-mlp", framework="pytorch", workers=1, instance_type="ecs.gn6i-c4g1.xlarge")
    job = submit(TRAIN, spec, cwd=repo)
    return {"id": job.id, "name": job.name}


SERVICE = "digits-svc"
N_IN = 16


def _onnx_linear(path: Path, seed: int) -> Path:
    """y = x @ W + b as a real ONNX graph (input x float32 [N, 16], output y [N, 4])."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(N_IN, 4)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", N_IN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def deploy_v1() -> dict[str, str]:
    from pai_jupyter.api.services import deploy

    model = _onnx_linear(Path(tempfile.mkdtemp(prefix="pai-ui-model-")) / "model.onnx", seed=0)
    service = deploy(SERVICE, model, processor="onnx")
    return {"name": service.name, "endpoint": service.endpoint}


def start_rollout() -> dict[str, str]:
    from pai_jupyter.api.services import deploy
    from pai_jupyter.specs.service import RolloutPlan

    model = _onnx_linear(Path(tempfile.mkdtemp(prefix="pai-ui-model-")) / "model.onnx", seed=1)
    # Bakes long enough for a person (or the UI test) to watch each step. The gates are wide
    # open: this scenario shows the split moving, not a revert, on a CI box under load.
    plan = RolloutPlan(
        steps=(10.0, 50.0, 100.0),
        bake_s=4.0,
        min_requests=5,
        max_error_rate=0.5,
        max_error_rate_delta=0.5,
        max_p95_ratio=100.0,
        min_p95_delta_ms=5000.0,
    )
    subprocess.Popen(
        [sys.executable, __file__, "load", SERVICE, "90"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    service = deploy(SERVICE, model, processor="onnx", plan=plan)
    return {"name": service.name, "weights": json.dumps(service.record.weights)}


def load(name: str, seconds: str) -> dict[str, int]:
    """Steady traffic (about 25 requests/s) until the time is up or the service is gone."""
    from pai_jupyter.errors import PaiError
    from pai_jupyter.api.services import get_service

    service = get_service(name)
    payload = [[0.5] * N_IN]
    deadline = time.monotonic() + float(seconds)
    sent = failures = 0
    while time.monotonic() < deadline and failures < 20:
        try:
            service.predict(payload, timeout=5)
            failures = 0
        except (PaiError, OSError):
            failures += 1
            time.sleep(0.2)
        sent += 1
        time.sleep(0.04)
    return {"sent": sent}


def advise(job_id: str) -> dict[str, str]:
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.db import Database
    from pai_jupyter.controlplane.jobs.store import JobStore
    from pai_jupyter.telemetry.advice import input_bound_advice

    # A GPU trace as NVML would sample it every 2 s: 35-45 % busy for six minutes.
    trace = [(1000.0 + 2 * i, 35.0 + (i * 7) % 11) for i in range(180)]
    advice = input_bound_advice(trace)
    assert advice is not None
    store = JobStore(Database(PaiConfig().home_path / "state.sqlite"))
    store.event(job_id, "advice", advice.message, {"kind": advice.kind, **advice.data})
    return {"kind": advice.kind}


def stop() -> dict[str, str]:
    from pai_jupyter.backends.registry import get_backend
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.server import running_server

    config = PaiConfig()
    info = running_server(config.home_path)
    if not info:
        return {"stopped": "none running"}
    backend = get_backend("local", config)
    for record in backend.training.list(limit=500):
        if not record.is_terminal:
            backend.training.stop(record.id)
    for service in backend.serving.list():
        backend.serving.delete(service.name)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(not r.is_terminal for r in backend.training.list(limit=500)):
        time.sleep(0.2)
    backend.client.post("/api/v1/shutdown")  # type: ignore[attr-defined]
    return {"stopped": info["url"]}


# -- pipelines (the Pipelines tab) -----------------------------------------------------------
PIPE_TRAIN = """\
import json, os, pathlib
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
(out / "weights.json").write_text(json.dumps({"quality": 0.5}))
"""
PIPE_EVAL = """\
import json, os, pathlib
from pai_jupyter import report
model = json.loads((pathlib.Path(os.environ["PAI_INPUT_MODEL"]) / "weights.json").read_text())
report(accuracy=model["quality"], latency_p95_ms=12.0)
"""


def pipeline_gated() -> dict[str, str]:
    """``ui-retrain``: train -> eval (gate: accuracy >= 0.9) -> deploy; one run, stopped at the gate."""
    from pai_jupyter.api.pipelines import Pipeline

    folder = Path(tempfile.mkdtemp(prefix="pai-ui-pipeline-"))
    (folder / "train.py").write_text(PIPE_TRAIN)
    (folder / "eval.py").write_text(PIPE_EVAL)
    p = (
        Pipeline("ui-retrain", cwd=folder)
        .train("train.py")
        .eval("eval.py", gate="accuracy >= 0.9 and latency_p95_ms <= 50")
        .deploy("ui-svc", processor="custom", command=f"{sys.executable} app.py")
        .schedule("0 3 * * *")
    )
    run = p.run(wait=True, timeout=120)
    return {"name": "ui-retrain", "run": run.id, "state": run.state}


COMMANDS = {
    "submit-job": submit_job,
    "deploy-v1": deploy_v1,
    "start-rollout": start_rollout,
    "load": load,
    "advise": advise,
    "stop": stop,
    "pipeline-gated": pipeline_gated,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: pai_setup.py {{{'|'.join(COMMANDS)}}} [args]")
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
