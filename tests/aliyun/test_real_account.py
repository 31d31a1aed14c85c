"""What a real PAI account expects of a DLC job (issue 11, points 1-11), against the rebuilt fakes.

Each test fails against the client before this work: the fakes refuse what Alibaba Cloud
refuses (their rules cite the SDK models and documentation), so agreeing with our own
reading of the API is not enough.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import oss2
import pytest

from pai_jupyter.api.jobs import submit
from pai_jupyter.backends.aliyun import dlc_jobs as dj
from pai_jupyter.backends.aliyun.oss_storage import OssStorage
from pai_jupyter.backends.base import Backend
from pai_jupyter.config import PaiConfig
from pai_jupyter.errors import AuthError, RemoteError, ValidationError
from pai_jupyter.specs.job import JobSpec, SpotPolicy
from pai_jupyter.storage.uri import OssUri
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.aliyun.fakes.common import acs_error
from tests.aliyun.fakes.dlc import validate_create
from tests.aliyun.fakes.signing import ACCESS_KEY

pytestmark = pytest.mark.slow

INTERNAL = f"oss://{BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com/"


def _body(fakes: AliyunFakes) -> dict[str, Any]:
    return fakes.dlc.calls("CreateJob")[-1].json


def _events(job: Any) -> str:
    return "\n".join(e.message for e in job.events())


# -- 1. the public pool ------------------------------------------------------------------------
def test_public_pool_job_names_an_instance_type(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    job = submit("print('ok')\n", JobSpec(name="pub"), cwd=tmp_path, backend=aliyun).wait(timeout=30, poll=0.1)
    (role,) = _body(fakes)["JobSpecs"]
    assert role["EcsSpec"] == "ecs.g6.xlarge" and "ResourceConfig" not in role
    assert "no --instance-type: running on ecs.g6.xlarge" in _events(job)
    gpu = submit("print(1)\n", JobSpec(name="pub-gpu", gpu_count=1), cwd=tmp_path, backend=aliyun)
    assert _body(fakes)["JobSpecs"][0]["EcsSpec"] == "ecs.gn6i-c4g1.xlarge"
    assert gpu.spec.instance_type is None  # the default is not written back into the user's spec
    sent = len(fakes.dlc.calls("CreateJob"))
    with pytest.raises(ValidationError, match="dedicated quota") as err:
        submit("print(1)\n", JobSpec(name="sized", cpu=4, memory="16Gi"), cwd=tmp_path, backend=aliyun)
    assert "--instance-type" in (err.value.hint or "") and len(fakes.dlc.calls("CreateJob")) == sent
    # The fake refuses what DLC refuses: the body today's client sent before this work.
    old = {"DisplayName": "x", "JobType": "PyTorchJob", "UserCommand": "true"}
    role = {"Type": "Worker", "Image": "img", "PodCount": 1, "ResourceConfig": {"CPU": "4"}}
    assert "needs an EcsSpec" in str(validate_create({**old, "JobSpecs": [role]}, b"{}"))
    role_with_ecs = {**role, "EcsSpec": "ecs.g6.xlarge"}
    assert "needs a ResourceId" in str(validate_create({**old, "JobSpecs": [role_with_ecs]}, b"{}"))
    assert validate_create({**old, "JobSpecs": [role_with_ecs], "ResourceId": "quota1"}, b"{}") is None


# -- 2. spot -------------------------------------------------------------------------------------
def test_spot_is_pytorch_only_regional_and_has_a_limit(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="PyTorch only"):
        submit(
            "print(1)\n", JobSpec(name="tf-spot", framework="tensorflow", spot=True), cwd=tmp_path, backend=aliyun
        )
    with pytest.raises(ValidationError, match="SpotAsPriceGo"):
        JobSpec(name="s", spot=True, spot_policy=SpotPolicy("SpotAsPriceGo")).validate()
    assert not fakes.dlc.calls("CreateJob")
    job = submit("print(1)\n", JobSpec(name="spot", framework="pytorch", spot=True), cwd=tmp_path, backend=aliyun)
    spot = _body(fakes)["JobSpecs"][0]["SpotSpec"]
    assert spot == {"SpotStrategy": "SpotWithPriceLimit", "SpotDiscountLimit": 0.9}
    assert "bidding up to SpotDiscountLimit=0.9" in _events(job)
    assert aliyun.training.get(job.id).spec == job.spec  # the defaulted limit reads back as "none given"
    assert "exactly one of SpotDiscountLimit" in str(
        validate_create(
            {
                "DisplayName": "x",
                "JobType": "PyTorchJob",
                "UserCommand": "true",
                "JobSpecs": [
                    {
                        "Type": "Worker",
                        "Image": "i",
                        "PodCount": 1,
                        "EcsSpec": "ecs.g6.xlarge",
                        "UseSpotInstance": True,
                        "SpotSpec": {"SpotStrategy": "SpotWithPriceLimit"},
                    }
                ],
            },
            b"{}",
        )
    )
    monkeypatch.setenv("PAI_JUPYTER_REGION", "ap-southeast-1")
    from pai_jupyter.backends.registry import get_backend, reset_backends

    reset_backends()
    with pytest.raises(ValidationError, match="not available in ap-southeast-1"):
        submit(
            "print(1)\n",
            JobSpec(name="spot-sg", spot=True),
            cwd=tmp_path,
            backend=get_backend("aliyun", PaiConfig()),
        )


# -- 3. images -----------------------------------------------------------------------------------
def test_image_comes_from_the_workspace_image_list(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    assert fakes.workspace is not None
    submit("print(1)\n", JobSpec(name="xgb", framework="xgboost"), cwd=tmp_path, backend=aliyun)
    image = _body(fakes)["JobSpecs"][0]["Image"]
    assert image.endswith("/pai/xgboost-training:2.0.3-cpu-py310-ubuntu22.04")  # not the py36 build
    (listing,) = fakes.workspace.calls("ListImages")
    assert listing.query["Labels"] == "system.official=true,system.supported.dlc=true,system.chipType=CPU"
    submit("print(1)\n", JobSpec(name="own", image="registry.example.com/me/img:1"), cwd=tmp_path, backend=aliyun)
    assert _body(fakes)["JobSpecs"][0]["Image"] == "registry.example.com/me/img:1"
    assert len(fakes.workspace.calls("ListImages")) == 1  # --image overrides; the xgboost answer is cached
    with pytest.raises(ValidationError, match="no official mxnet training image"):
        submit("print(1)\n", JobSpec(name="mx", framework="mxnet"), cwd=tmp_path, backend=aliyun)


# -- 4. OSS URIs carry the endpoint ---------------------------------------------------------------
def test_data_sources_name_the_bucket_endpoint(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    submit("print(1)\n", JobSpec(name="uris"), cwd=tmp_path, backend=aliyun)
    uris = [s["Uri"] for s in _body(fakes)["DataSources"]]
    assert uris and all(u.startswith(INTERNAL) for u in uris)
    bare = {
        "DisplayName": "x",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "JobSpecs": [{"Type": "Worker", "Image": "i", "PodCount": 1, "EcsSpec": "ecs.g6.xlarge"}],
        "DataSources": [{"Uri": f"oss://{BUCKET}/code/", "MountPath": "/ml/usercode"}],
    }
    assert "does not name the bucket's endpoint" in str(validate_create(bare, b"{}"))


# -- 5. output mounts ------------------------------------------------------------------------------
MOUNT_SCRIPT = """
import os
from pai_jupyter import Checkpointer, report
ckpt = Checkpointer(every_steps=1)
for step in range(3):
    report(step=step, loss=1.0 / (step + 1))
    ckpt.save({"step": step}, step=step)
open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.txt"), "w").write("weights")
print("saved", sorted(os.listdir(os.environ["PAI_OUTPUT_CHECKPOINTS"])), flush=True)
"""


def test_report_and_checkpointer_work_on_a_jindofuse_mount(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    spec = JobSpec(name="mounts", output=f"oss://{BUCKET}/fresh/model/", checkpoint=f"oss://{BUCKET}/fresh/ckpt/")
    job = submit(MOUNT_SCRIPT, spec, cwd=tmp_path, backend=aliyun).wait(timeout=60, poll=0.1)
    body = _body(fakes)
    assert body["Settings"]["EnableOssAppend"] is True  # report() appends to its metrics file
    assert body["Envs"]["PAI_JUPYTER_OSS_MOUNTS"].split(":") == [
        "/ml/output/model",
        "/ml/output/checkpoints",
        dj.RUN_MOUNT,
        "/ml/output/tensorboard",  # the SDK's third output channel, in the run folder
    ]
    assert [v for _, v in job.metric("loss")] == [1.0, 0.5, 1.0 / 3]
    assert fakes.oss.path(BUCKET, "fresh/model/model.txt").read_text() == "weights"
    assert len(list(fakes.oss.path(BUCKET, "fresh/ckpt").glob("*.pkl"))) >= 1
    # The fresh prefixes were created before CreateJob (a mount of a missing prefix fails the job).
    assert fakes.oss.path(BUCKET, "fresh/model/.keep").exists()


def test_the_fake_mount_refuses_fsync_like_jindofuse(aliyun: Backend, tmp_path: Path) -> None:
    """What the Checkpointer test above would hit without PAI_JUPYTER_OSS_MOUNTS: the emulation bites."""
    src = (
        "import os\n"
        "fh = open(os.path.join(os.environ['PAI_OUTPUT_MODEL'], 'w.bin'), 'wb')\n"
        "fh.write(b'x'); fh.flush(); os.fsync(fh.fileno())\n"
    )
    job = submit(src, JobSpec(name="fsync"), cwd=tmp_path, backend=aliyun)
    job.wait(timeout=30, poll=0.1, raise_on_failure=False)
    assert job.record.state == "Failed" and "fsync on an OSS mount needs a file opened for append" in job.logs()


def test_mount_of_a_missing_prefix_fails_the_job_in_the_fake(fakes: AliyunFakes) -> None:
    """The fake models the failure the prefix markers prevent."""
    from alibabacloud_pai_dlc20201203 import models
    from alibabacloud_pai_dlc20201203.client import Client

    from pai_jupyter.backends.aliyun.credentials import openapi_config

    client = Client(openapi_config(PaiConfig(), "dlc"))
    body = {
        "DisplayName": "missing",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "JobSpecs": [{"Type": "Worker", "Image": "i", "PodCount": 1, "EcsSpec": "ecs.g6.xlarge"}],
        "DataSources": [{"Uri": INTERNAL + "nothing/here/", "MountPath": "/ml/output/model", "MountAccess": "RW"}],
    }
    job_id = client.create_job(models.CreateJobRequest().from_map(body)).body.job_id
    deadline = time.monotonic() + 10
    while fakes.dlc.jobs[job_id].status != "Failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    item = client.get_job(job_id, models.GetJobRequest()).body.to_map()
    assert item["Status"] == "Failed" and item["ReasonCode"] == "MountFailed"
    # GetJob answers in its own shape: no MountAccess, as GetJobResponseBodyDataSources has none.
    assert item["DataSources"] == [{"Uri": INTERNAL + "nothing/here/", "MountPath": "/ml/output/model"}]


# -- 6. ranged reads -------------------------------------------------------------------------------
def test_a_range_past_the_end_reads_nothing(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    storage = OssStorage(PaiConfig())
    uri = OssUri(BUCKET, "tail/metrics.jsonl")
    storage.write_bytes(uri, b'{"a":1}\n')
    bucket = storage.bucket(uri)
    # What OSS does (https://help.aliyun.com/knowledge_detail/39571.html): without the header, a start
    # past the end is ignored and the whole object comes back with 200.
    plain = bucket.get_object(uri.key, byte_range=(8, None))
    assert plain.status == 200 and plain.read() == b'{"a":1}\n'
    with pytest.raises(oss2.exceptions.ServerError) as err:
        bucket.get_object(uri.key, byte_range=(8, None), headers={"x-oss-range-behavior": "standard"})
    assert err.value.status == 416 and err.value.code == "InvalidRange"
    assert storage.read_range(uri, 8) == b"" and storage.read_range(uri, 5) == b"1}\n"
    src = "from pai_jupyter import report\nfor i in range(3):\n    report(step=i, loss=float(i))\n"
    job = submit(src, JobSpec(name="ranges"), cwd=tmp_path, backend=aliyun).wait(timeout=30, poll=0.1)
    for _ in range(3):  # every poll re-reads from its offset: no point twice
        assert [s for s, _ in job.metric("loss")] == [0, 1, 2]


# -- 7. TensorFlow ranks ---------------------------------------------------------------------------
def test_tensorflow_workers_take_their_rank_from_tf_config(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path
) -> None:
    src = "import os\nfrom pai_jupyter import report\nreport(step=0, has_rank=float('RANK' in os.environ))\n"
    spec = JobSpec(name="tf-ranks", framework="tensorflow", workers=2)
    job = submit(src, spec, cwd=tmp_path, backend=aliyun).wait(timeout=60, poll=0.1)
    points = [p for p in job.metrics() if p.name == "has_rank"]
    assert sorted(p.worker for p in points) == [0, 1] and {p.value for p in points} == {0.0}
    folder = fakes.oss.path(BUCKET, job.record.outputs["metrics"].split(f"{BUCKET}/", 1)[1])
    assert sorted(p.name for p in folder.glob("*.jsonl")) == ["worker-0.1.jsonl", "worker-1.1.jsonl"]
    from pai_jupyter.jobenv import worker_rank

    chief = {"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}, "task": {"type": "worker", "index": 1}}
    assert worker_rank({"TF_CONFIG": json.dumps(chief)}) == 2 and worker_rank({"RANK": "3"}) == 3


# -- 8. GetJobMetrics ------------------------------------------------------------------------------
def test_failing_job_metrics_leave_the_job_view_working(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pai_jupyter.backends.aliyun.sdk_errors.BACKOFF_S", 0.01)
    # the job lives a second so the fake samples its pod (it samples running pods only)
    src = "import time\nfrom pai_jupyter import report\nreport(step=1, loss=0.25)\ntime.sleep(1.0)\n"
    job = submit(src, JobSpec(name="no-sys"), cwd=tmp_path, backend=aliyun).wait(timeout=30, poll=0.1)
    fakes.dlc.metrics_failing = True
    points = job.metrics()
    assert [(p.name, p.value) for p in points] == [("loss", 0.25)]
    assert job.refresh().state == "Succeeded" and job.events()
    fakes.dlc.metrics_failing = False
    names = {p.name for p in job.metrics()}
    assert "memory_percent" in names and "memory_mb" not in names


# -- 9. HistoryPods ----------------------------------------------------------------------------------
def test_reclaim_seen_only_in_history_pods_is_a_reclaim() -> None:
    item = {
        "Status": "Failed",
        "ReasonCode": "JobFailed",
        "ReasonMessage": "the job failed: not all pods are running",
        "Pods": [
            {
                "PodId": "dlc1-worker-0",
                "Status": "Failed",
                "SubStatus": "Normal",
                "HistoryPods": [{"PodId": "dlc1-worker-0", "Status": "Failed", "SubStatus": "Evicted"}],
            }
        ],
    }
    assert dj.was_reclaimed(item)
    item["Pods"][0]["HistoryPods"] = []
    assert not dj.was_reclaimed(item)


# -- 10. retries and cadence --------------------------------------------------------------------
def test_reads_retry_throttling_and_writes_do_not(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pai_jupyter.backends.aliyun.sdk_errors.BACKOFF_S", 0.01)
    job = submit("print(1)\n", JobSpec(name="retry"), cwd=tmp_path, backend=aliyun)
    before = len(fakes.dlc.calls("GetJob"))
    fakes.dlc.fail_next += [
        acs_error(429, "Throttling.User", "Request was denied due to user flow control."),
        acs_error(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
    ]
    assert aliyun.training.get(job.id).id == job.id
    assert len(fakes.dlc.calls("GetJob")) - before >= 3  # two refused, then answered
    creates = len(fakes.dlc.calls("CreateJob"))
    fakes.dlc.fail_next.append(acs_error(503, "ServiceUnavailable", "temporary failure"))
    with pytest.raises(RemoteError):
        submit("print(1)\n", JobSpec(name="once"), cwd=tmp_path, backend=aliyun)
    assert len(fakes.dlc.calls("CreateJob")) == creates + 1  # CreateJob is not idempotent: never repeated


def test_wait_polls_at_the_backend_cadence(
    aliyun: Backend, fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert aliyun.training.reconcile_interval >= 2.0  # seconds on DLC, not the local 0.25 s
    job = submit("print(1)\n", JobSpec(name="cadence"), cwd=tmp_path, backend=aliyun)
    slept: list[float] = []
    real_sleep = time.sleep
    main = threading.main_thread()

    def sleep(seconds: float) -> None:  # time.sleep is process-wide: record only this thread's waits
        if threading.current_thread() is main:
            slept.append(seconds)
            seconds = 0.05
        real_sleep(seconds)

    monkeypatch.setattr("pai_jupyter.api.jobs.time.sleep", sleep)
    job.wait(timeout=30)
    assert slept and set(slept) == {aliyun.training.reconcile_interval}


# -- 11. inside DSW ----------------------------------------------------------------------------------
def test_dsw_kernel_finds_its_workspace_from_the_instance(
    fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.backends.registry import get_backend, reset_backends
    from pai_jupyter.config import current_config, set_current_config

    assert fakes.workspace is not None
    fakes.workspace.add_instance("dsw-7f3a", "ws-of-dsw")
    fakes.workspace.configs["ws-of-dsw"] = {"modelExportPath": f"oss://{BUCKET}.oss-cn-hangzhou.aliyuncs.com/ws/"}
    fakes.oss.create_bucket(BUCKET)
    monkeypatch.delenv("PAI_JUPYTER_OSS_BUCKET")  # the workspace's default OSS storage is used
    monkeypatch.delenv("PAI_JUPYTER_WORKSPACE_ID")
    monkeypatch.setenv("DSW_INSTANCE_ID", "dsw-7f3a")
    monkeypatch.setenv("REGION", "cn-hangzhou")
    monkeypatch.delenv("PAI_JUPYTER_REGION")
    reset_backends()
    set_current_config(None)
    backend = get_backend("aliyun", current_config())  # what %%pai_train --backend aliyun builds
    job = submit("print(1)\n", JobSpec(name="in-dsw"), cwd=tmp_path, backend="aliyun")
    assert _body(fakes)["WorkspaceId"] == "ws-of-dsw"
    assert backend.config.oss_bucket == BUCKET and job.record.code_uri.startswith(f"oss://{BUCKET}/")
    (lookup,) = fakes.workspace.calls("GetInstance")
    assert lookup.path == "/api/v2/instances/dsw-7f3a" and lookup.headers["x-acs-version"] == "2022-01-01"
    backend.training.list()
    assert fakes.dlc.calls("ListJobs")[-1].query["WorkspaceId"] == "ws-of-dsw"
    assert job.id


# -- signatures ----------------------------------------------------------------------------------------
def test_a_wrong_secret_is_refused_with_the_real_error_codes(
    fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.backends.aliyun.dlc_training import DlcTraining

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
    storage = OssStorage(PaiConfig())
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        DlcTraining(PaiConfig(), storage).list()
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        storage.write_bytes(OssUri(BUCKET, "x"), b"1")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "unknown-ak")
    with pytest.raises(AuthError, match="InvalidAccessKeyId"):
        DlcTraining(PaiConfig(), OssStorage(PaiConfig())).list()
    assert ACCESS_KEY != "unknown-ak"
