"""Training face: submit / get / list / stop / logs / metrics / events / provenance
of real scripts, the same on both backends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pai_jupyter.api.jobs import Job, get_job, jobs, submit
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import JobFailed, NotFoundError
from pai_jupyter.specs.job import JobSpec

pytestmark = pytest.mark.slow

TRAIN = """
import os
from pai_jupyter import report
for step in range(4):
    report(step=step, loss=1.0 / (step + 1))
    print(f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']} step {step}", flush=True)
print("done", flush=True)
"""


def _wait_state(job: Job, states: set[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.status() in states:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} is {job.record.state}, wanted {states}")


def test_job_lifecycle(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 3\n")
    job = submit(TRAIN, JobSpec(name="contract-train", workers=2), cwd=tmp_path, backend=backend)
    assert job.record.backend == backend.id and job.name == "contract-train"
    job.wait(timeout=60, poll=0.2)
    record = job.refresh()
    assert record.state == "Succeeded" and record.is_terminal
    assert record.attempt == 1 and len(record.workers) == 2
    assert record.started_at is not None and record.finished_at is not None
    assert record.outputs["model"].startswith("oss://")
    assert "rank 1 of 2 step 3" in job.logs(worker=1)
    assert job.logs(worker=0).rstrip().endswith("done")
    assert job.logs(tail=1).strip() == "done"
    loss = job.metric("loss")
    assert [s for s, _ in loss] == [0, 1, 2, 3]
    assert loss[-1][1] == pytest.approx(0.25)
    assert {p.worker for p in job.metrics(names=["loss"])} == {0, 1}
    events = job.events()
    assert any(e.kind == "state" for e in events)
    assert [e.data["outcome"] for e in events if e.kind == "attempt"] == ["succeeded"]
    assert job.provenance["snapshot"]["files"] >= 2  # the entry script and helper.py
    import json

    from pai_jupyter.storage.uri import OssUri

    beside_model = json.loads(backend.storage.read_bytes(OssUri.parse(record.outputs["provenance"])))
    assert beside_model["job"]["id"] == job.id and beside_model["job"]["state"] == "Succeeded"
    assert job.id in [j.id for j in jobs(backend=backend, name="contract-train")]
    assert get_job(job.id, backend=backend).record.spec == job.spec
    assert job.id not in [j.id for j in jobs(backend=backend, state="Failed")]


def test_follow_logs_in_offsets(backend: Backend, tmp_path: Path) -> None:
    job = submit(TRAIN, JobSpec(name="contract-follow"), cwd=tmp_path, backend=backend)
    text = "".join(backend.follow_logs(job.id, poll=0.1))
    assert text.count("step") == 4 and text.rstrip().endswith("done")
    chunk = backend.training.logs(job.id, offset=0)
    rest = backend.training.logs(job.id, offset=chunk.next_offset)
    assert rest.text == "" and rest.next_offset == chunk.next_offset


def test_failing_job(backend: Backend, tmp_path: Path) -> None:
    job = submit(
        "print('about to fail', flush=True)\nraise SystemExit(3)\n",
        JobSpec(name="contract-fail"),
        cwd=tmp_path,
        backend=backend,
    )
    with pytest.raises(JobFailed) as err:
        job.wait(timeout=60, poll=0.2)
    assert job.record.state == "Failed" and job.record.attempt == 1
    assert job.id in str(err.value) and "exited with code 3" in (job.record.reason or "")
    assert "about to fail" in job.logs()
    assert job.id in [j.id for j in jobs(backend=backend, state="Failed")]


def test_stop_running_job(backend: Backend, tmp_path: Path) -> None:
    src = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
    job = submit(src, JobSpec(name="contract-stop"), cwd=tmp_path, backend=backend)
    _wait_state(job, {"Running"})
    deadline = time.monotonic() + 20
    while "started" not in job.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    job.stop()
    assert job.record.state in ("Stopping", "Stopped")
    _wait_state(job, {"Stopped"})
    assert job.refresh().finished_at is not None


def test_unknown_job_is_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError) as err:
        backend.training.get("job-doesnotexist")
    assert "\n" not in str(err.value)


def test_missing_data_input_is_refused(backend: Backend, tmp_path: Path) -> None:
    from pai_jupyter.config import current_config
    from pai_jupyter.specs.job import DataInput

    bucket = current_config().oss_bucket or current_config().default_bucket
    spec = JobSpec(name="contract-input", inputs=(DataInput(f"oss://{bucket}/no/such/folder/", "train"),))
    with pytest.raises(NotFoundError, match="does not exist"):
        submit("print(1)\n", spec, cwd=tmp_path, backend=backend)
    assert "contract-input" not in [j.name for j in jobs(backend=backend)]
