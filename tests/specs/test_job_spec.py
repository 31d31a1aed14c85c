from __future__ import annotations

import json

import pytest

from pai_jupyter.errors import ValidationError
from pai_jupyter.specs.job import DataInput, JobSpec, SpotPolicy


def full_spec() -> JobSpec:
    return JobSpec(
        name="digits",
        framework="pytorch",
        workers=2,
        instance_type="ecs.gn6i-c4g1.xlarge",
        gpu_count=1,
        gpu_type="T4",
        resource_group="quota12345",
        workspace_id="ws-1",
        spot=True,
        spot_policy=SpotPolicy(discount_limit=0.4),
        inputs=(DataInput("oss://demo/datasets/digits"), DataInput("oss://demo/extra/", "extra", "/mnt/extra")),
        output="oss://demo/models/digits",
        checkpoint="oss://demo/ckpt/digits",
        checkpoint_interval="15m",
        env={"LR": "0.1"},
        args=("--epochs", "3"),
        max_run_time="2h",
        priority=4,
        max_restarts=5,
        entry="train.py",
        workdir="notebooks",
    )


def test_dlc_body_uses_create_job_field_names() -> None:
    body = full_spec().to_dlc(code_uri="oss://demo/code/", region="cn-shanghai")
    assert body["DisplayName"] == "digits"
    assert body["JobType"] == "PyTorchJob"
    role = body["JobSpecs"][0]
    assert role["Type"] == "Worker" and role["PodCount"] == 2
    assert role["EcsSpec"] == "ecs.gn6i-c4g1.xlarge"
    assert role["UseSpotInstance"] is True
    assert role["SpotSpec"] == {"SpotStrategy": "SpotWithPriceLimit", "SpotDiscountLimit": 0.4}
    assert role["ResourceConfig"] == {"GPU": "1", "GPUType": "T4"}
    assert "cn-shanghai" in role["Image"]
    assert body["ResourceId"] == "quota12345"
    assert body["WorkspaceId"] == "ws-1"
    assert body["JobMaxRunningTimeMinutes"] == 120
    assert body["Priority"] == 4
    mounts = {s["MountPath"]: (s["Uri"], s["MountAccess"]) for s in body["DataSources"]}
    assert mounts["/ml/usercode"] == ("oss://demo/code/", "RO")
    assert mounts["/ml/input/data/data"] == ("oss://demo/datasets/digits", "RO")
    assert mounts["/mnt/extra"] == ("oss://demo/extra/", "RO")
    assert mounts["/ml/output/model"] == ("oss://demo/models/digits", "RW")
    assert body["Envs"]["PAI_INPUT_DATA"] == "/ml/input/data/data"
    assert body["Envs"]["PAI_INPUT_EXTRA"] == "/mnt/extra"
    assert body["Envs"]["PAI_OUTPUT_MODEL"] == "/ml/output/model"
    assert body["Envs"]["LR"] == "0.1"
    assert body["Envs"]["PAI_CHECKPOINT_INTERVAL"] == "900.0"  # read by the Checkpointer inside the job
    assert body["UserCommand"] == "cd /ml/usercode/notebooks && python train.py --epochs 3"
    json.dumps(body)  # serialisable as the SDK sends it


def test_dlc_round_trip_is_exact() -> None:
    spec = full_spec()
    assert JobSpec.from_dlc(spec.to_dlc(code_uri="oss://demo/code/")) == spec
    minimal = JobSpec(name="m")
    assert JobSpec.from_dlc(minimal.to_dlc()) == minimal


def test_shared_pool_sends_no_resource_id() -> None:
    body = JobSpec(name="a").to_dlc()
    assert "ResourceId" not in body
    assert body["JobType"] == "PyTorchJob"


def test_from_hand_written_dlc_body() -> None:
    body = {
        "DisplayName": "tf-job",
        "JobType": "TFJob",
        "JobSpecs": [{"Type": "Worker", "Image": "my/image:1", "PodCount": 3, "EcsSpec": "ecs.g6.xlarge"}],
        "UserCommand": "python /root/train.py --lr 0.1",
        "DataSources": [{"Uri": "oss://b/train/", "MountPath": "/ml/input/data/train"}],
    }
    spec = JobSpec.from_dlc(body)
    assert spec.framework == "tensorflow" and spec.workers == 3 and spec.image == "my/image:1"
    assert spec.inputs == (DataInput("oss://b/train/", "train"),)
    assert spec.args == ("--lr", "0.1")


def test_json_round_trip() -> None:
    spec = full_spec()
    assert JobSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"workers": 0}, "--workers must be at least 1"),
        ({"name": "has space"}, "job name"),
        ({"framework": "caffe"}, "framework 'caffe'"),
        ({"inputs": (DataInput("s3://x/y"),)}, "not an oss:// URI"),
        ({"inputs": (DataInput("oss://Bad_Bucket/x"),)}, "invalid bucket name"),
        ({"output": "oss://demo/../etc"}, "'..' path segment"),
        ({"instance_type": "gpu-large"}, "is not an ECS spec"),
        ({"priority": 10}, "between 1 and 9"),
        ({"spot_policy": SpotPolicy()}, "add --spot"),
        ({"env": {"1BAD": "x"}}, "environment variable name"),
        ({"inputs": (DataInput("oss://demo/a"), DataInput("oss://demo/b"))}, "given twice"),
    ],
)
def test_validation_names_the_problem(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        JobSpec(**{"name": "ok", **changes}).validate()


def test_duration_text_is_parsed_and_bad_durations_refused() -> None:
    assert JobSpec(name="a", checkpoint_interval="1h30m").checkpoint_interval == 5400
    with pytest.raises(ValidationError, match="not a duration"):
        JobSpec(name="a", checkpoint_interval="soon")


def test_data_input_parse_forms() -> None:
    assert DataInput.parse("oss://demo/d") == DataInput("oss://demo/d", "data")
    assert DataInput.parse("train=oss://demo/t/") == DataInput("oss://demo/t/", "train")
    assert DataInput.parse("x=oss://demo/t:/mnt/x") == DataInput("oss://demo/t", "x", "/mnt/x")


def test_unknown_spec_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown job spec field"):
        JobSpec.from_dict({"name": "a", "gpus": 2})
