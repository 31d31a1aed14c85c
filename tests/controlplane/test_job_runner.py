"""Real jobs on the local control plane: processes, DLC's environment, states."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.errors import NotFoundError
from pai_jupyter.specs.job import DataInput, JobSpec
from tests.conftest import stop_control_plane, wait_until
from tests.controlplane.jobs_helpers import submit_script, wait_for

pytestmark = pytest.mark.slow

DIST_SCRIPT = """
import json, os, sys
import torch
import torch.distributed as dist
from pai_jupyter import report

dist.init_process_group("gloo")  # MASTER_ADDR/PORT, WORLD_SIZE, RANK from the runner
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
gathered = [None] * world
dist.all_gather_object(gathered, {"rank": rank, "pid": os.getpid()})
for step in range(5):
    report(step=step, loss=1.0 / (step + 1))
if rank == 0:
    out = os.environ["PAI_OUTPUT_MODEL"]
    with open(os.path.join(out, "result.json"), "w") as fh:
        json.dump({"sum": t.item(), "ranks": sorted(g["rank"] for g in gathered), "world": world}, fh)
print(f"rank {rank} of {world} sum {t.item()} local_rank {os.environ['LOCAL_RANK']}", flush=True)
dist.destroy_process_group()
"""


def test_two_worker_torch_gloo_job_uses_both_ranks(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    spec = JobSpec(name="dist", framework="pytorch", workers=2, output="oss://demo/models/dist")
    record = submit_script(backend, DIST_SCRIPT, spec)
    record = wait_for(backend, record.id, {"Succeeded", "Failed"}, timeout=120)
    assert record.state == "Succeeded", backend.training.logs(record.id, worker=0).text
    result = json.loads(backend.storage.read_bytes(_uri("oss://demo/models/dist/result.json")))
    assert result == {"sum": 3.0, "ranks": [0, 1], "world": 2}
    for rank in (0, 1):
        assert f"rank {rank} of 2 sum 3.0 local_rank 0" in backend.training.logs(record.id, worker=rank).text
    assert [w.exit_code for w in record.workers] == [0, 0]
    # Metrics from both workers, with steps/s derived from consecutive steps.
    points = backend.training.metrics(record.id)
    assert {(p.worker, p.step) for p in points if p.name == "loss"} == {(w, s) for w in (0, 1) for s in range(5)}
    assert any(p.name == "steps_per_sec" and p.value > 0 for p in points)
    # Provenance is written beside the output model.
    provenance = json.loads(backend.storage.read_bytes(_uri("oss://demo/models/dist/provenance.json")))
    assert provenance["job"]["id"] == record.id and provenance["test"] is True


def test_worker_contract_and_data_inputs(pai_config: PaiConfig, tmp_path: Path) -> None:
    backend = LocalBackend(pai_config)
    data = tmp_path / "digits"
    data.mkdir()
    (data / "train.csv").write_text("1,2\n")
    backend.storage.upload(data, _uri("oss://demo/datasets/digits/"))
    script = """
import json, os
keys = ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "NPROC_PER_NODE", "LOCAL_RANK", "TF_CONFIG",
        "PAI_INPUT_DATA", "PAI_OUTPUT_MODEL", "PAI_OUTPUT_CHECKPOINTS", "PAI_WORKING_DIR", "HELLO"]
env = {k: os.environ.get(k) for k in keys}
env["data"] = open(os.path.join(os.environ["PAI_INPUT_DATA"], "train.csv")).read()
env["cwd"] = os.getcwd()
print("ENV" + json.dumps(env))
"""
    spec = JobSpec(
        name="env",
        framework="tensorflow",
        workers=2,
        inputs=(DataInput("oss://demo/datasets/digits"),),
        env={"HELLO": "world"},
    )
    record = wait_for(backend, submit_script(backend, script, spec).id, {"Succeeded", "Failed"})
    assert record.state == "Succeeded"
    envs = []
    for rank in (0, 1):
        line = next(
            x for x in backend.training.logs(record.id, worker=rank).text.splitlines() if x.startswith("ENV")
        )
        envs.append(json.loads(line[3:]))
    assert [e["RANK"] for e in envs] == ["0", "1"]
    assert all(e["WORLD_SIZE"] == "2" and e["MASTER_ADDR"] == "127.0.0.1" for e in envs)
    assert envs[0]["MASTER_PORT"] == envs[1]["MASTER_PORT"]
    assert envs[0]["data"] == "1,2\n" and envs[0]["HELLO"] == "world"
    tf_config = json.loads(envs[1]["TF_CONFIG"])
    assert tf_config["task"] == {"type": "worker", "index": 1} and len(tf_config["cluster"]["worker"]) == 2
    assert envs[0]["cwd"] == envs[0]["PAI_WORKING_DIR"]
    assert record.outputs["model"].startswith("oss://")


def test_missing_data_input_is_refused_with_a_hint(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    spec = JobSpec(name="nodata", inputs=(DataInput("oss://demo/nothing-here"),))
    with pytest.raises(NotFoundError, match=r"does not exist in local storage.*jupyter pai storage cp"):
        submit_script(backend, "print(1)", spec)


def test_failing_worker_fails_the_job_with_exit_code_and_last_lines(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    script = """
import os, sys, time
if os.environ["RANK"] == "1":
    print("loading data")
    raise SystemExit("could not open /data/x.csv")
time.sleep(60)
"""
    record = submit_script(backend, script, JobSpec(name="bad", workers=2))
    record = wait_for(backend, record.id, {"Failed", "Succeeded"}, timeout=30)
    assert record.state == "Failed"
    assert record.reason.startswith("worker 1 exited with code 1")
    assert "could not open /data/x.csv" in record.reason
    # The healthy worker was stopped rather than left running.
    wait_until(lambda: not _alive(record.workers[0].pid), what="worker 0 to be stopped")
    events = backend.training.events(record.id)
    assert any(e.kind == "error" and "loading data" in e.data.get("log", []) for e in events)


def test_stop_terminates_the_process_tree(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    script = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("child", child.pid, flush=True)
time.sleep(120)
"""
    record = submit_script(backend, script, JobSpec(name="long"))
    wait_until(lambda: "child" in backend.training.logs(record.id).text, what="the child to start")
    child = int(backend.training.logs(record.id).text.split()[1])
    stopped = backend.training.stop(record.id)
    assert stopped.state in ("Stopping", "Stopped")
    record = wait_for(backend, record.id, {"Stopped"}, timeout=20)
    assert record.reason == "stopped by the user"
    wait_until(lambda: not _alive(child), what="the grandchild to exit")


def test_queue_respects_concurrency_limit(pai_config: PaiConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_JUPYTER_MAX_CONCURRENT_JOBS", "1")
    backend = LocalBackend(PaiConfig())
    first = submit_script(backend, "import time; time.sleep(1.5)", JobSpec(name="first"))
    second = submit_script(backend, "print('second')", JobSpec(name="second"))
    wait_for(backend, first.id, {"Running"})
    assert backend.training.get(second.id).state == "Queuing"
    wait_for(backend, first.id, {"Succeeded"})
    assert wait_for(backend, second.id, {"Succeeded"}).started_at >= backend.training.get(first.id).finished_at


def test_control_plane_restart_reattaches_live_workers(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    script = """
import time
from pai_jupyter import report
for i in range(30):
    report(step=i, loss=1.0)
    time.sleep(0.1)
print("finished")
"""
    record = submit_script(backend, script, JobSpec(name="survivor"))
    wait_for(backend, record.id, {"Running"})
    time.sleep(0.5)
    stop_control_plane_keep_jobs(pai_config.home_path)
    backend.close()
    backend = LocalBackend(PaiConfig())  # starts a new control plane on first use
    record = wait_for(backend, record.id, {"Succeeded", "Failed"}, timeout=30)
    assert record.state == "Succeeded"
    assert any("reattached 1 live worker" in e.message for e in backend.training.events(record.id))
    steps = sorted({p.step for p in backend.training.metrics(record.id, names=["loss"])})
    assert steps == list(range(30)), "no metric lost or counted twice across the restart"


def test_restart_marks_jobs_whose_workers_vanished_as_failed(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    record = submit_script(backend, "import time; time.sleep(60)", JobSpec(name="victim"))
    record = wait_for(backend, record.id, {"Running"})
    stop_control_plane_keep_jobs(pai_config.home_path)
    os.killpg(record.workers[0].pid, signal.SIGKILL)
    wait_until(lambda: not _alive(record.workers[0].pid), what="the worker to die")
    backend.close()
    backend = LocalBackend(PaiConfig())
    record = wait_for(backend, record.id, {"Failed"}, timeout=20)
    assert "killed by signal 9" in record.reason or "vanished" in record.reason


def stop_control_plane_keep_jobs(home: Path) -> None:
    import requests

    from pai_jupyter.controlplane.server import running_server

    info = running_server(home)
    assert info
    requests.post(f"{info['url']}/api/v1/shutdown", headers={"Authorization": f"token {info['token']}"})
    wait_until(lambda: running_server(home) is None, what="the control plane to stop")


def _alive(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _uri(text: str):  # type: ignore[no-untyped-def]
    from pai_jupyter.storage.uri import OssUri

    return OssUri.parse(text)


_ = stop_control_plane
