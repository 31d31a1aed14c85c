"""DLC training against the fake DLC: every request checked against the reference,
the job state machine through failure and spot reclaim, and errors as one line."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pai_jupyter.api.jobs import Job, jobs, submit
from pai_jupyter.backends.aliyun import dlc_jobs as dj
from pai_jupyter.backends.aliyun.dlc_training import DlcTraining
from pai_jupyter.backends.base import Backend
from pai_jupyter.config import PaiConfig
from pai_jupyter.errors import AuthError, BackendUnavailable, NotFoundError, RemoteError
from pai_jupyter.specs.job import DataInput, JobSpec
from pai_jupyter.storage.uri import OssUri
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.aliyun.fakes.common import acs_error
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

RESUMABLE = """
import os, time
ckpt = os.path.join(os.environ["PAI_OUTPUT_CHECKPOINTS"], "step.txt")
start = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
print(f"attempt {os.environ['PAI_JOB_ATTEMPT']} job {os.environ['PAI_JOB_ID']} resumes at {start}", flush=True)
for step in range(start, 6):
    with open(ckpt + ".tmp", "w") as fh:
        fh.write(str(step + 1))
    os.replace(ckpt + ".tmp", ckpt)
    time.sleep(SLEEP)
print("finished", flush=True)
"""


def _creates(fakes: AliyunFakes) -> list[dict]:
    return [r.json for r in fakes.dlc.calls("CreateJob")]


def test_create_job_request_matches_the_reference(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    fakes.oss.path(BUCKET, "data/digits/x.csv").parent.mkdir(parents=True)
    fakes.oss.path(BUCKET, "data/digits/x.csv").write_text("1,2\n")
    spec = JobSpec(
        name="tf-job.v1",
        framework="tensorflow",
        workers=2,
        instance_type="ecs.gn6i-c4g1.xlarge",
        gpu_count=1,
        gpu_type="T4",
        resource_group="quota-abc",
        inputs=(DataInput(f"oss://{BUCKET}/data/digits/", "train"),),
        output=f"oss://{BUCKET}/out/model/",
        checkpoint=f"oss://{BUCKET}/out/ckpt/",
        checkpoint_interval=30,
        env={"LR": "0.1"},
        max_run_time=3600,
        priority=4,
        args=("--epochs", "2"),
    )
    job = submit("print('tf')\n", spec, cwd=tmp_path, backend=aliyun)
    (req,) = fakes.dlc.calls("CreateJob")
    assert (req.method, req.path) == ("POST", "/api/v1/jobs")
    assert req.headers["x-acs-version"] == "2020-12-03"
    assert req.headers["content-type"].startswith("application/json")
    assert req.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-ak,")
    body = req.json
    run = job.record.outputs["run"]
    expected = spec.with_changes(
        workspace_id="ws-test", workdir=job.spec.workdir, experiment=job.spec.experiment
    ).to_dlc(job.record.code_uri)
    for key in (
        "DisplayName",
        "JobType",
        "Priority",
        "ResourceId",
        "WorkspaceId",
        "JobMaxRunningTimeMinutes",
    ):
        assert body[key] == expected[key], key
    assert body["Settings"] == {**expected["Settings"], "EnableOssAppend": True}
    assert body["JobType"] == "TFJob" and body["DisplayName"] == "tf-job.v1" and body["ResourceId"] == "quota-abc"
    assert body["JobMaxRunningTimeMinutes"] == 60 and body["Priority"] == 4
    (role,) = body["JobSpecs"]
    assert role["Type"] == "Worker" and role["PodCount"] == 2 and role["EcsSpec"] == "ecs.gn6i-c4g1.xlarge"
    assert role["ResourceConfig"] == {"GPU": "1", "GPUType": "T4"}
    assert "UseSpotInstance" not in role and "SpotSpec" not in role
    # No --image: the newest official TensorFlow GPU image with Python >= 3.10 from ListImages.
    assert (
        role["Image"]
        == "dsw-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai/tensorflow-training:2.14-gpu-py311-cu118-ubuntu22.04"
    )
    mounts = {s["MountPath"]: (s["Uri"], s["MountAccess"]) for s in body["DataSources"]}
    host = f"oss://{BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com/"
    assert mounts == {
        "/ml/usercode": (host + job.record.code_uri.split(f"{BUCKET}/", 1)[1], "RO"),
        "/ml/input/data/train": (host + "data/digits/", "RO"),
        "/ml/output/model": (host + "out/model/", "RW"),
        "/ml/output/checkpoints": (host + "out/ckpt/", "RW"),
        "/ml/output/tensorboard": (host + run.split(f"{BUCKET}/", 1)[1] + "tensorboard/", "RW"),
        dj.RUN_MOUNT: (host + run.split(f"{BUCKET}/", 1)[1], "RW"),
        dj.RUNTIME_MOUNT: (mounts[dj.RUNTIME_MOUNT][0], "RO"),
    }
    assert mounts[dj.RUNTIME_MOUNT][0].startswith(host + "pai-jupyter/runtime/")
    envs = body["Envs"]
    assert envs["LR"] == "0.1" and envs["PAI_INPUT_TRAIN"] == "/ml/input/data/train"
    assert (
        envs["PAI_OUTPUT_MODEL"] == "/ml/output/model"
        and envs["PAI_OUTPUT_CHECKPOINTS"] == "/ml/output/checkpoints"
    )
    assert envs[dj.ENV_RUN] == run and envs[dj.ENV_ATTEMPT] == "1" and envs["PAI_CHECKPOINT_INTERVAL"] == "30.0"
    assert dj.ENV_ROOT not in envs
    assert body["UserCommand"].startswith(dj.wrapper_prefix())
    assert dj.strip_wrapper(body["UserCommand"]) == expected["UserCommand"]
    assert "python main.py --epochs 2" in body["UserCommand"]
    # The manifest keeps the spec as submitted, and the job reads back equal.
    manifest = json.loads(fakes.oss.path(BUCKET, run.split(f"{BUCKET}/", 1)[1] + "job.json").read_text())
    assert manifest["root"] == job.id and JobSpec.from_dict(manifest["spec"]) == job.spec
    assert aliyun.training.get(job.id).spec == job.spec


def test_read_requests_use_documented_paths_and_query_keys(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    job = submit("print('hello', flush=True)\n", JobSpec(name="reads"), cwd=tmp_path, backend=aliyun)
    job.wait(timeout=30, poll=0.1)
    dlc_id = job.record.outputs["dlc_job_id"]
    fakes.dlc.requests.clear()
    assert "hello" in job.logs()
    job.metrics()
    job.events()
    jobs(backend=aliyun, name="reads")
    (logs,) = fakes.dlc.calls("GetPodLogs")
    assert logs.method == "GET" and logs.path == f"/api/v1/jobs/{dlc_id}/pods/{dlc_id}-worker-0/logs"
    assert logs.query == {"MaxLines": "10000"}
    metric_calls = fakes.dlc.calls("GetJobMetrics")
    assert {r.query["MetricType"] for r in metric_calls} == set(dj.SYSTEM_METRICS)
    assert all(set(r.query) == {"MetricType", "StartTime", "EndTime"} for r in metric_calls)
    assert all(r.path == f"/api/v1/jobs/{dlc_id}/metrics" for r in metric_calls)
    assert [r.path for r in fakes.dlc.calls("GetJobEvents")] == [f"/api/v1/jobs/{dlc_id}/events"]
    (listing,) = fakes.dlc.calls("ListJobs")
    assert listing.path == "/api/v1/jobs" and listing.query["WorkspaceId"] == "ws-test"
    assert listing.query["DisplayName"] == "reads" and listing.query["PageNumber"] == "1"
    assert set(listing.query) == {"WorkspaceId", "DisplayName", "PageNumber", "PageSize", "SortBy", "Order"}
    assert all(r.path == f"/api/v1/jobs/{dlc_id}" for r in fakes.dlc.calls("GetJob"))


def test_system_metrics_come_from_get_job_metrics(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    src = "import time\nx = [0] * 3_000_000\nt = time.time()\nwhile time.time() - t < 1.5:\n    pass\n"
    job = submit(src, JobSpec(name="sys-metrics"), cwd=tmp_path, backend=aliyun)
    job.wait(timeout=30, poll=0.1)
    points = job.metrics(names=["cpu_percent", "memory_percent", "memory_mb"])
    assert {p.source for p in points} == {"system"}
    # GetJobMetrics' MemoryUsage is a utilisation percentage, so it is named memory_percent.
    memory = [p.value for p in points if p.name == "memory_percent"]
    assert memory and all(0 <= v <= 100 for v in memory) and max(memory) > 0
    assert not [p for p in points if p.name == "memory_mb"]
    assert max(p.value for p in points if p.name == "cpu_percent") > 10


def _spot_job(aliyun: Backend, tmp_path: Path, max_restarts: int, sleep: float = 0.3, spot: bool = True) -> Job:
    spec = JobSpec(name="spot-job", spot=spot, max_restarts=max_restarts)
    return submit(RESUMABLE.replace("SLEEP", str(sleep)), spec, cwd=tmp_path, backend=aliyun)


def _reclaim_when_started(job: Job, fakes: AliyunFakes, steps: int = 2) -> str:
    ckpt = job.record.outputs["checkpoints"].split(f"{BUCKET}/", 1)[1] + "step.txt"
    path = fakes.oss.path(BUCKET, ckpt)
    wait_until(lambda: path.exists() and int(path.read_text() or 0) >= steps, what="a checkpoint")
    dlc_id = job.refresh().outputs["dlc_job_id"]
    fakes.dlc.reclaim(dlc_id)
    return dlc_id


def test_reclaimed_spot_job_is_resubmitted_from_its_checkpoint(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    job = _spot_job(aliyun, tmp_path, max_restarts=2)
    first = _reclaim_when_started(job, fakes)
    seen = set()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and job.reconcile().state != "Succeeded":
        seen.add(job.record.state)
        time.sleep(0.1)
    record = job.record
    assert record.state == "Succeeded" and record.attempt == 2 and record.id == first == job.id
    assert "Restarting" in seen
    assert record.outputs["dlc_job_id"] != first
    creates = _creates(fakes)
    assert len(creates) == 2
    assert creates[1]["Envs"][dj.ENV_ATTEMPT] == "2" and creates[1]["Envs"][dj.ENV_ROOT] == first
    assert creates[1]["DataSources"] == creates[0]["DataSources"]  # same checkpoint folder
    assert {k: v for k, v in creates[1].items() if k != "Envs"} == {
        k: v for k, v in creates[0].items() if k != "Envs"
    }
    logs = job.logs()
    assert f"attempt 1 job {first} resumes at 0" in logs
    assert "=== attempt 2 ===" in logs
    resumed = int(logs.split(f"attempt 2 job {first} resumes at ")[1].split()[0])
    assert resumed >= 2 and logs.rstrip().endswith("finished")
    events = job.events()
    kinds = [e.kind for e in events]
    assert "preemption" in kinds and "restart" in kinds
    attempts = [e.data for e in events if e.kind == "attempt"]
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "preempted"), (2, "succeeded")]
    assert attempts[1]["duration_s"] > 0
    assert [j.id for j in jobs(backend=aliyun, name="spot-job")] == [job.id]  # one job, two attempts
    prov = json.loads(
        aliyun.storage.read_bytes(__import__("pai_jupyter").storage.uri.OssUri.parse(record.outputs["provenance"]))
    )
    assert prov["job"]["attempts"] == 2 and prov["job"]["dlc_job_ids"][0] == first


def test_reclaims_past_max_restarts_fail_the_job(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = _spot_job(aliyun, tmp_path, max_restarts=0, sleep=1.0)
    _reclaim_when_started(job, fakes, steps=1)
    wait_until(lambda: job.reconcile().state == "Failed", what="Failed")
    assert "gave up after max_restarts=0" in (job.record.reason or "")
    assert len(_creates(fakes)) == 1 and job.record.attempt == 1
    assert any("gave up" in e.message for e in job.events())


def test_evicted_on_demand_job_is_not_resubmitted(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = _spot_job(aliyun, tmp_path, max_restarts=3, sleep=1.0, spot=False)
    _reclaim_when_started(job, fakes, steps=1)
    wait_until(lambda: job.reconcile().state == "Failed", what="Failed")
    assert len(_creates(fakes)) == 1


def test_two_pollers_resubmit_once(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = _spot_job(aliyun, tmp_path, max_restarts=3, sleep=1.0)
    dlc_id = _reclaim_when_started(job, fakes, steps=1)
    wait_until(lambda: fakes.dlc.jobs[dlc_id].status == "Failed", what="DLC to fail the attempt")
    other = DlcTraining(PaiConfig(), aliyun.storage)
    assert aliyun.training.get(job.id).attempt == 1 and len(_creates(fakes)) == 1  # get() never writes
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda t=t: results.append(t.reconcile_job(job.id).attempt))
        for t in (aliyun.training, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2, 2] and len(_creates(fakes)) == 2
    aliyun.training.stop(job.id)


def test_stop_is_stop_job_and_prevents_resubmission(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = _spot_job(aliyun, tmp_path, max_restarts=3, sleep=1.0)
    wait_until(lambda: job.status() == "Running", what="Running")
    dlc_id = job.record.outputs["dlc_job_id"]
    job.stop()
    (stop,) = fakes.dlc.calls("StopJob")
    assert (stop.method, stop.path) == ("POST", f"/api/v1/jobs/{dlc_id}/stop")
    wait_until(lambda: job.refresh().state == "Stopped", what="Stopped")
    assert len(_creates(fakes)) == 1


def test_jobs_submitted_elsewhere_are_readable(aliyun: Backend, fakes: AliyunFakes) -> None:
    from alibabacloud_pai_dlc20201203 import models

    body = JobSpec(name="console-job").to_dlc(None)
    dlc_id = aliyun.training.client.create_job(models.CreateJobRequest().from_map(body)).body.job_id
    record = aliyun.training.get(dlc_id)
    assert record.id == dlc_id and record.name == "console-job" and record.attempt == 1
    assert record.spec == JobSpec(name="console-job")
    with pytest.raises(NotFoundError, match="not submitted by pai-jupyter"):
        aliyun.training.provenance(dlc_id)


def test_sdk_errors_are_one_line_with_request_id(
    aliyun: Backend, fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NotFoundError) as err:
        aliyun.training.get("dlcmissing")
    text = str(err.value)
    assert text.startswith("GetJob dlcmissing failed: JobNotFound: job dlcmissing does not exist (request id ")
    fakes.dlc.fail_next.append(
        acs_error(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")
    )
    with pytest.raises(AuthError) as err:
        aliyun.training.list()
    assert "Forbidden.RAM" in str(err.value) and "RAM policy" in (err.value.hint or "")
    monkeypatch.setattr("pai_jupyter.backends.aliyun.sdk_errors.BACKOFF_S", 0.01)
    fakes.dlc.fail_next.extend(  # reads retry 5xx: four failures in a row leave as one line
        acs_error(500, "InternalError", "The request processing has failed due to some unknown error.")
        for _ in range(4)
    )
    with pytest.raises(RemoteError) as err:
        aliyun.training.get("dlcany")
    assert err.value.http_status == 500 and "request id" in str(err.value)
    for exc in (err.value,):
        assert "\n" not in str(exc) and "Traceback" not in str(exc) and "TeaException" not in str(exc)
    monkeypatch.setenv("PAI_JUPYTER_DLC_ENDPOINT", "127.0.0.1:1")
    with pytest.raises(BackendUnavailable, match=r"cannot reach 127\.0\.0\.1:1 \(connection refused\)"):
        DlcTraining(PaiConfig(), aliyun.storage).get("dlcany")


def test_missing_credentials_are_an_auth_error(fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    from pai_jupyter.backends.aliyun.oss_storage import OssStorage

    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    config = PaiConfig()
    with pytest.raises(AuthError) as err:
        DlcTraining(config, OssStorage(config)).get("dlcany")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in (err.value.hint or "")
    with pytest.raises(AuthError, match="no Alibaba Cloud credentials found for OSS"):
        OssStorage(config).read_bytes(OssUri(BUCKET, "x"))
    assert fakes.dlc.calls() == [] and fakes.oss.requests == []  # nothing unsigned was sent


def test_oversized_create_job_is_refused_before_sending(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    from pai_jupyter.errors import ValidationError

    spec = JobSpec(name="huge", env={"BLOB": "x" * 70000})
    with pytest.raises(ValidationError, match="DLC takes at most 65536"):
        submit("print(1)\n", spec, cwd=tmp_path, backend=aliyun)
    assert fakes.dlc.calls("CreateJob") == []


def test_secret_never_reaches_requests_or_storage(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = submit(
        "import os\nprint(sorted(os.environ)[:3])\n", JobSpec(name="secrets"), cwd=tmp_path, backend=aliyun
    )
    job.wait(timeout=30, poll=0.1)
    job.logs()
    secret = b"test-secret-never-logged"
    for req in fakes.dlc.requests + fakes.oss.requests:
        assert secret not in req.body and secret.decode() not in json.dumps(req.headers)
    for path in fakes.oss.root.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    body = _creates(fakes)[0]
    assert not any(k.startswith("ALIBABA_CLOUD") for k in body["Envs"])


CHECKPOINTED = """
import os, time
from pai_jupyter import Checkpointer, report
ckpt = Checkpointer(every_steps=1)
resumed = ckpt.load_latest()
start = resumed.step + 1 if resumed else 0
state = resumed.state if resumed else {"total": 0}
print(f"rank {os.environ['RANK']} attempt {os.environ['PAI_JOB_ATTEMPT']} starts at step {start}", flush=True)
for step in range(start, 8):
    state = {"total": state["total"] + step}
    if ckpt.should_save(step):
        ckpt.save(state, step)
    report(step=step, total=state["total"])
    time.sleep(0.3)
print("total", state["total"], flush=True)
"""


def test_checkpointer_resumes_both_ranks_after_reclaim(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    """The real Checkpointer, shipped with the runtime mount, resumes a 2-pod spot job on DLC."""
    spec = JobSpec(name="ckpt-job", workers=2, spot=True, max_restarts=1)
    job = submit(CHECKPOINTED, spec, cwd=tmp_path, backend=aliyun)
    folder = fakes.oss.path(BUCKET, job.record.outputs["checkpoints"].split(f"{BUCKET}/", 1)[1])
    wait_until(lambda: len(list(folder.glob("*.pkl"))) >= 3, what="three checkpoints")
    fakes.dlc.reclaim(job.refresh().outputs["dlc_job_id"])
    job.wait(timeout=60, poll=0.1)
    assert job.record.attempt == 2
    for worker in (0, 1):
        logs = job.logs(worker=worker)
        second = logs.split("=== attempt 2 ===", 1)[1]
        resumed_at = int(second.split("starts at step ", 1)[1].split()[0])
        assert resumed_at >= 3 and second.rstrip().endswith("total 28")  # 0+1+...+7, as without the reclaim
    totals = [v for s, v in job.metric("total")]
    assert totals[-1] == 28


def test_an_abandoned_resubmission_claim_is_taken_over(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    from pai_jupyter.backends.aliyun import dlc_training

    job = _spot_job(aliyun, tmp_path, max_restarts=2, sleep=1.0)
    dlc_id = _reclaim_when_started(job, fakes, steps=1)
    wait_until(lambda: fakes.dlc.jobs[dlc_id].status == "Failed", what="DLC to fail the attempt")
    claim = fakes.oss.path(BUCKET, job.record.outputs["run"].split(f"{BUCKET}/", 1)[1] + "attempts/2")
    claim.parent.mkdir(parents=True, exist_ok=True)
    claim.write_text(json.dumps({"claimed_at": time.time() - 3600}))  # a client that died after claiming
    dlc_training.RESUBMIT_WAIT, saved = 0.2, dlc_training.RESUBMIT_WAIT
    try:
        assert aliyun.training.reconcile_job(job.id).attempt == 2
    finally:
        dlc_training.RESUBMIT_WAIT = saved
    assert len(_creates(fakes)) == 2 and json.loads(claim.read_text())["took_over"] is True
    aliyun.training.stop(job.id)


def test_experiments_are_a_job_tag_that_list_jobs_filters_on(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    from pai_jupyter.api.experiments import experiment, experiments

    first = submit("print(1)\n", JobSpec(name="a", experiment="tune-lr"), cwd=tmp_path, backend=aliyun)
    submit("print(2)\n", JobSpec(name="b", experiment="other"), cwd=tmp_path, backend=aliyun)
    assert _creates(fakes)[0]["Settings"]["Tags"]["pai-jupyter.experiment"] == "tune-lr"
    fakes.dlc.requests.clear()
    runs = experiment("tune-lr", backend=aliyun).runs
    assert [r.job.id for r in runs] == [first.id] and runs[0].job.spec.experiment == "tune-lr"
    (listing,) = fakes.dlc.calls("ListJobs")
    assert json.loads(listing.query["Tags"]) == {"pai-jupyter.experiment": "tune-lr"}
    assert {e["name"]: e["runs"] for e in experiments(backend=aliyun)} == {"tune-lr": 1, "other": 1}


def test_autolog_hook_runs_in_the_dlc_pod_beside_the_images_sitecustomize(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    probe = (
        "import builtins, sys\n"
        "print('hooked:', 'pai_jupyter.autolog' in sys.modules, 'jindo:', builtins.open.__name__, flush=True)\n"
    )
    on = submit(probe, JobSpec(name="autolog-on"), cwd=tmp_path, backend=aliyun)
    off = submit(probe, JobSpec(name="autolog-off", autolog=False), cwd=tmp_path, backend=aliyun)
    on.wait(timeout=60, poll=0.1)
    off.wait(timeout=60, poll=0.1)
    # The runtime mount's autolog/site comes first; the image's own sitecustomize (the fake's
    # JindoFuse emulation) still runs after ours.
    assert "hooked: True jindo: _guarded_open" in on.logs()
    assert "hooked: False jindo: _guarded_open" in off.logs()
    assert off.spec.autolog is False and aliyun.training.get(off.id).spec.autolog is False
