"""Spot preemption on the real local backend: restart, resume from the last valid checkpoint, same result.

A deterministic torch training script (fixed seed, one thread, data drawn
from the checkpointed RNG) runs once without interruption and once with a
reclaim in the middle; the final model bytes must be identical.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pai_jupyter.api import jobs as client
from pai_jupyter.checkpoint import read_manifest
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.storage.uri import OssUri
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

TRAIN = """
import os, time
import torch
from pai_jupyter import Checkpointer, report

STEPS = 300
torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
ckpt = Checkpointer(every_steps=50, keep=2)
start = 0
resumed = ckpt.load_latest()
if resumed is not None:
    model.load_state_dict(resumed.state["model"])
    opt.load_state_dict(resumed.state["opt"])
    torch.set_rng_state(resumed.state["rng"])
    start = resumed.step
    print(f"resumed from step {start} on attempt {os.environ['PAI_JOB_ATTEMPT']}", flush=True)
for step in range(start + 1, STEPS + 1):
    x = torch.randn(32, 8)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    loss = ((model(x) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    report(step=step, loss=loss.item())
    if ckpt.should_save(step):
        ckpt.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state()}, step)
    time.sleep(0.02)
weights = b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())
with open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.bin"), "wb") as fh:
    fh.write(weights)
print("final loss", loss.item(), flush=True)
"""


def _model_bytes(job: client.Job) -> bytes:
    return job.backend.storage.read_bytes(OssUri.parse(job.outputs["model"]).join("model.bin"))


def _last_step(job: client.Job) -> int:
    steps = [step for step, _ in job.metric("loss") if step is not None]
    return max(steps, default=0)


def test_preempted_job_resumes_from_its_checkpoint_and_ends_with_identical_weights(
    pai_home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    plain = client.submit_file(script, JobSpec(name="uninterrupted"), cwd=tmp_path)
    spot = client.submit_file(script, JobSpec(name="spot", spot=True, max_restarts=2), cwd=tmp_path)

    # Reclaim the spot job once it has checkpointed and moved on, well before it ends.
    wait_until(lambda: _last_step(spot) > 110, timeout=120, what="the spot job to pass step 110")
    spot.preempt()
    checkpoint_dir = spot.backend.storage.path_for(OssUri.parse(spot.outputs["checkpoints"]))
    saved_before = [e.step for e in read_manifest(checkpoint_dir) or []]

    spot.wait(timeout=180, poll=0.2)
    plain.wait(timeout=180, poll=0.2)
    assert spot.record.attempt == 2 and plain.record.attempt == 1

    weights = _model_bytes(spot)
    assert len(weights) == 4 * (8 * 16 + 16 + 16 + 1)
    assert hashlib.sha256(weights).hexdigest() == hashlib.sha256(_model_bytes(plain)).hexdigest()

    # The second attempt really resumed, from the newest checkpoint the first one left.
    resumed_from = max(saved_before)
    assert resumed_from >= 100
    log = spot.logs()
    assert f"resumed from step {resumed_from} on attempt 2" in log and "=== attempt 2 ===" in log
    assert "resumed" not in plain.logs()

    # The job history shows each attempt.
    events = [(e.kind, e.message) for e in spot.events()]
    kinds = [k for k, _ in events]
    assert kinds.count("attempt") == 2 and "preemption" in kinds
    attempt_events = [e for e in spot.events() if e.kind == "attempt"]
    first, second = (e.data for e in attempt_events)
    assert first["attempt"] == 1 and first["outcome"] == "preempted"
    assert first["checkpoint_step"] == resumed_from and first["last_step"] > 110
    assert second["attempt"] == 2 and second["outcome"] == "succeeded" and second["last_step"] == 300
    restart = next(m for k, m in events if k == "restart")
    assert restart.startswith(f"attempt 2 starts; it resumes from checkpoint step {resumed_from} (ckpt-")
    order = [k for k in kinds if k in ("preemption", "attempt", "restart")]
    assert order == ["preemption", "attempt", "restart", "attempt"]

    # Keep-last-2 held across both attempts.
    assert [e.step for e in read_manifest(checkpoint_dir) or []] == [250, 300]


FOREVER = """
import time
from pai_jupyter import Checkpointer
ckpt = Checkpointer(every_steps=1)
step = (ckpt.load_latest().step if ckpt.load_latest() else 0) + 1
ckpt.save(b"state", step)
print("attempt step", step, flush=True)
time.sleep(120)
"""


def test_a_job_that_keeps_getting_reclaimed_stops_after_max_restarts(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "forever.py"
    script.write_text(FOREVER)
    job = client.submit_file(
        script, JobSpec(name="unlucky", spot=True, max_restarts=1), cwd=tmp_path, simulate_preemption_after=1.0
    )
    # The first reclaim comes from --simulate-preemption-after, the second from `jobs preempt`.
    wait_until(lambda: job.refresh().attempt == 2 and job.record.state == "Running", timeout=60, what="attempt 2")
    wait_until(lambda: "attempt step 2" in job.logs(), timeout=30, what="attempt 2 to checkpoint")
    job.preempt()
    job.wait(timeout=60, poll=0.2, raise_on_failure=False)
    assert job.record.state == "Failed"
    assert job.record.reason == "preempted 2 times; gave up after max_restarts=1"
    attempts = [e.data for e in job.events() if e.kind == "attempt"]
    assert [(a["attempt"], a["outcome"], a["checkpoint_step"]) for a in attempts] == [
        (1, "preempted", 1),
        (2, "preempted", 2),
    ]
    assert sum(1 for e in job.events() if e.kind == "restart") == 1


DDP_TRAIN = """
import os, time
import torch
import torch.distributed as dist
from pai_jupyter import Checkpointer, report

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
ckpt = Checkpointer(every_steps=40)
start = 0
resumed = ckpt.load_latest()  # every rank reads what rank 0 wrote
if resumed is not None:
    model.module.load_state_dict(resumed.state["model"])
    opt.load_state_dict(resumed.state["opt"])
    start = resumed.step
    print(f"rank {rank} resumed from step {start}", flush=True)
for step in range(start + 1, 201):
    # Each rank's batch is a function of (step, rank), like DistributedSampler.set_epoch.
    g = torch.Generator().manual_seed(1000 * step + rank)
    x = torch.randn(16, 8, generator=g)
    loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    report(step=step, loss=loss.item())
    if ckpt.should_save(step):
        ckpt.save({"model": model.module.state_dict(), "opt": opt.state_dict()}, step)  # no-op on rank 1
    time.sleep(0.02)
if rank == 0:
    weights = b"".join(t.detach().numpy().tobytes() for t in model.module.state_dict().values())
    with open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.bin"), "wb") as fh:
        fh.write(weights)
dist.destroy_process_group()
"""


def test_two_worker_job_resumes_every_rank_from_rank_0s_checkpoint(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(DDP_TRAIN)
    spec = JobSpec(name="ddp", framework="pytorch", workers=2)
    plain = client.submit_file(script, spec, cwd=tmp_path)
    spot = client.submit_file(script, spec.with_changes(name="ddp-spot", spot=True), cwd=tmp_path)
    wait_until(lambda: _last_step(spot) > 90, timeout=120, what="the spot job to pass step 90")
    spot.preempt()
    spot.wait(timeout=180, poll=0.2)
    plain.wait(timeout=180, poll=0.2)
    assert spot.record.attempt == 2
    assert _model_bytes(spot) == _model_bytes(plain)
    resumed = [e.data["checkpoint_step"] for e in spot.events() if e.kind == "restart"]
    assert len(resumed) == 1 and resumed[0] >= 80
    for rank in (0, 1):
        assert f"rank {rank} resumed from step {resumed[0]}" in spot.logs(worker=rank)
    folder = spot.backend.storage.path_for(OssUri.parse(spot.outputs["checkpoints"]))
    assert [e.step for e in read_manifest(folder) or []] == [120, 160, 200]
