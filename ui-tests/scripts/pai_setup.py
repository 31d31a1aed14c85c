"""Test data for the UI tests, made through the client API against the local backend.

``submit-job``  a real job (in a small Git repo with an uncommitted change, so the
                provenance summary has a commit and the dirty flag) that reports a
                falling loss every 0.5 s; prints {"id": ...}.
``deploy-v1``   a real ONNX model served as version 1 of ``digits-svc``; prints the endpoint.
``start-rollout`` version 2 of ``digits-svc`` by blue-green rollout (10 -> 50 -> 100 %,
                short bakes) with steady traffic from a background load process.
``submit-quick-job NAME S``  a real job NAME that reports a loss every 0.5 s for S seconds
                and then succeeds (for notifications of a job that ends).
``start-bad-rollout NAME``  deploy version 1 of NAME, then roll out a version 2 that answers about
                ten times slower (same signature) behind the default gates, with steady load:
                the p95 gate is breached and the rollout reverts, for real.
``submit-spot-job NAME``  a real spot job that checkpoints every step; its instance is
                reclaimed after 3 s and attempt 2 resumes from the checkpoint and succeeds.
``advise ID``   record on job ID the advice the runner gives a GPU job whose GPUs idle at
                ~40 % (input-bound); these machines have no GPU to produce it for real.
``load NAME S`` send requests to NAME for S seconds (the background load itself).
``big-job N``    a finished job with N loss points (1.0 falling to ~0.01, noisy), inserted
                through the job store's batch API (what a days-long run reports);
                prints its id and the first and last values.
``experiment-runs NAME`` two real runs of experiment NAME with different --hp lr that
                report a falling loss and succeed; prints their ids.
``history N``   N finished jobs created a day ago and before (``old-job-0000`` the oldest),
                through the store's batch insert: a long history for paging and search.
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
# A real training run: a small MLP on scikit-learn's bundled digits (no download), PyTorch on CPU.
# Each step sleeps 0.3 s so the UI test can watch it live and Stop it while it runs.
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from pai_jupyter import report
from model import HIDDEN

x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, random_state=0)
x_train, x_test = torch.tensor(x_train, dtype=torch.float32), torch.tensor(x_test, dtype=torch.float32)
y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
print(f"digits: {len(x_train)} train / {len(x_test)} test, hidden {HIDDEN}", flush=True)
step = 0
for epoch in range(1, 101):
    for i in range(0, len(x_train), 64):
        step += 1
        loss = torch.nn.functional.cross_entropy(net(x_train[i : i + 64]), y_train[i : i + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
        report(step=step, loss=loss.item())
        time.sleep(0.3)
    with torch.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
    report(step=step, test_accuracy=accuracy)
    print(f"epoch {epoch} step {step} loss {loss.item():.4f} test accuracy {accuracy:.3f}", flush=True)
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


QUICK = """\
import sys
import time
from pai_jupyter import report

for step in range(1, int(float(sys.argv[1]) * 2) + 1):
    report(step=step, loss=1.0 / step)
    time.sleep(0.5)
print("done", flush=True)
"""


def submit_quick_job(name: str, seconds: str) -> dict[str, str]:
    from pai_jupyter.api.jobs import submit
    from pai_jupyter.specs.job import JobSpec

    job = submit(QUICK, JobSpec(name=name, args=(seconds,)), cwd=Path(tempfile.mkdtemp(prefix="pai-ui-quick-")))
    return {"id": job.id, "name": job.name}


SPOT = """\
import time
from pai_jupyter import Checkpointer, report

ckpt = Checkpointer(every_steps=1)
latest = ckpt.load_latest()
for step in range(latest.step + 1 if latest else 1, 17):
    report(step=step, loss=1.0 / step)
    ckpt.save(b"state", step)
    time.sleep(0.5)
"""


def submit_spot_job(name: str) -> dict[str, str]:
    from pai_jupyter.api.jobs import submit
    from pai_jupyter.specs.job import JobSpec

    spec = JobSpec(name=name, spot=True, max_restarts=1)
    cwd = Path(tempfile.mkdtemp(prefix="pai-ui-spot-"))
    job = submit(SPOT, spec, cwd=cwd, simulate_preemption_after=3.0)
    return {"id": job.id, "name": job.name}


SERVICE = "digits-svc"
N_IN = 16


def _onnx_linear(path: Path, seed: int, slow: bool = False) -> Path:
    """y = x @ W + b as a real ONNX graph (input x float32 [N, 16], output y [N, 4]).

    ``slow``: the same signature and a similar answer, but the input first goes through
    eight 2048 x 2048 matrix products (one shared weight, so the file stays small): about
    ten times the latency, the kind of regression a latency gate is there to catch.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(N_IN, 4)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])]
    initializer = [w, b]
    if slow:
        wide = 2048
        up = numpy_helper.from_array(np.eye(N_IN, wide, dtype=np.float32), "up")
        mix = numpy_helper.from_array(np.eye(wide, dtype=np.float32), "mix")
        down = numpy_helper.from_array(np.eye(wide, N_IN, dtype=np.float32), "down")
        chain = [helper.make_node("MatMul", ["x", "up"], ["h0"])]
        chain += [helper.make_node("MatMul", [f"h{i}", "mix"], [f"h{i + 1}"]) for i in range(8)]
        chain.append(helper.make_node("MatMul", ["h8", "down"], ["xs"]))
        nodes[0].input[0] = "xs"
        nodes = [*chain, *nodes]
        initializer += [up, mix, down]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", N_IN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializer=initializer,
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


def start_bad_rollout(name: str) -> dict[str, str]:
    from pai_jupyter.api.services import deploy
    from pai_jupyter.specs.service import RolloutPlan

    folder = Path(tempfile.mkdtemp(prefix="pai-ui-model-"))
    deploy(name, _onnx_linear(folder / "good.onnx", seed=0), processor="onnx")
    subprocess.Popen(
        [sys.executable, __file__, "load", name, "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # The default gates (p95 at most 1.5 x the old version's, 5 % errors) with a short bake.
    plan = RolloutPlan(steps=(20.0, 100.0), bake_s=6.0, min_requests=5)
    bad = _onnx_linear(folder / "slow.onnx", seed=1, slow=True)
    service = deploy(name, bad, processor="onnx", plan=plan)
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


def big_job(count: str) -> dict[str, object]:
    import math
    import uuid

    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.db import Database
    from pai_jupyter.controlplane.jobs.store import JobStore
    from pai_jupyter.records import SUCCEEDED, MetricPoint
    from pai_jupyter.specs.job import JobSpec

    n = int(count)
    store = JobStore(Database(PaiConfig().home_path / "state.sqlite"))
    job_id = f"big-{uuid.uuid4().hex[:8]}"
    t0 = time.time() - n * 0.01
    store.create_many([(job_id, JobSpec(name="million-steps", framework="pytorch"), t0, SUCCEEDED)])

    def loss(step: int) -> float:
        # Falls from 1.0 towards 0.01 with a deterministic wiggle (a real curve's noise).
        return 0.01 + 0.99 * math.exp(-step / (n / 8)) + 0.002 * math.sin(step * 0.7)

    batch = 50_000
    for lo in range(1, n + 1, batch):
        hi = min(n, lo + batch - 1)
        store.add_metrics(
            job_id, [MetricPoint("loss", loss(step), t0 + step * 0.01, step) for step in range(lo, hi + 1)]
        )
    return {"id": job_id, "first": loss(1), "last": loss(n), "count": n}


RUN = """\
import time
from pai_jupyter import report

lr = float(__import__("os").environ.get("PAI_HPS_LR", "0.1"))
for step in range(1, 41):
    report(step=step, loss=1.0 / (1 + lr * step), accuracy=1 - 1.0 / (1 + lr * step))
    time.sleep(0.02)
"""


def experiment_runs(name: str) -> dict[str, object]:
    from pai_jupyter.api.jobs import submit
    from pai_jupyter.specs.job import JobSpec

    ids = []
    for lr in ("0.1", "0.5"):
        spec = JobSpec(name=f"lr-{lr}", framework="pytorch", experiment=name, hyperparameters={"lr": lr})
        ids.append(submit(RUN, spec).id)
    from pai_jupyter.api.jobs import get_job

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(get_job(i).record.is_terminal for i in ids):
        time.sleep(0.3)
    return {"ids": ids, "states": [get_job(i).record.state for i in ids]}


def history(count: str) -> dict[str, object]:
    import uuid

    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.db import Database
    from pai_jupyter.controlplane.jobs.store import JobStore
    from pai_jupyter.records import FAILED, SUCCEEDED
    from pai_jupyter.specs.job import JobSpec

    n = int(count)
    store = JobStore(Database(PaiConfig().home_path / "state.sqlite"))
    day_ago = time.time() - 86400
    store.create_many(
        [
            (
                f"old-{uuid.uuid4().hex[:8]}",
                JobSpec(name=f"old-job-{i:04d}", framework="pytorch"),
                day_ago - (n - i) * 60,
                FAILED if i % 7 == 0 else SUCCEEDED,
            )
            for i in range(n)
        ]
    )
    return {"created": n}
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
    "submit-quick-job": submit_quick_job,
    "submit-spot-job": submit_spot_job,
    "deploy-v1": deploy_v1,
    "start-rollout": start_rollout,
    "start-bad-rollout": start_bad_rollout,
    "load": load,
    "advise": advise,
    "big-job": big_job,
    "history": history,
    "experiment-runs": experiment_runs,
    "stop": stop,
    "pipeline-gated": pipeline_gated,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: pai_setup.py {{{'|'.join(COMMANDS)}}} [args]")
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
