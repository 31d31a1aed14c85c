"""ServiceSpec / AutoscalePolicy / RolloutPlan: validation and the EAS round trips."""

from __future__ import annotations

import json

import pytest

from pai_jupyter.errors import ValidationError
from pai_jupyter.specs.service import (
    CONTAINER_PORT,
    OWN_SERVER_COMMAND,
    PORT_ENV,
    AutoscalePolicy,
    RolloutPlan,
    ServiceSpec,
)

SIGNATURE = {
    "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 64]}],
    "outputs": [{"name": "label", "dtype": "int64", "shape": [-1]}],
}


def full_spec(**changes: object) -> ServiceSpec:
    spec = ServiceSpec(
        name="digits_svc",
        processor="onnx",
        instances=2,
        cpu=4.0,
        memory_mb=8192,
        resource_group="eas-r-abc123",
        env="staging",
        autoscaler=AutoscalePolicy(
            min=0, max=8, qps_per_instance=20.0, scale_in_cooldown_s=120, scale_to_zero=True, idle_grace_s=900
        ),
        signature=SIGNATURE,
        max_body_bytes=2**20,
        token="s3cret-token-123",
    )
    return spec.with_changes(**changes)


# -- EAS service JSON -------------------------------------------------------------
def test_to_eas_writes_the_service_json_eascmd_takes() -> None:
    body = full_spec().to_eas("oss://demo/models/digits/")
    assert body["name"] == "digits_svc"
    assert body["model_path"] == "oss://demo/models/digits/"
    assert "processor" not in body and body["containers"][0]["command"] == OWN_SERVER_COMMAND
    assert body["metadata"] == {"instance": 2, "cpu": 4, "memory": 8192, "resource": "eas-r-abc123"}
    assert body["token"] == "s3cret-token-123"
    assert body["autoscaler"]["min"] == 0 and body["autoscaler"]["max"] == 8
    assert body["autoscaler"]["strategies"] == {"qps": 20}
    assert body["autoscaler"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    assert body["autoscaler"]["behavior"]["onZero"]["scaleDownGracePeriodSeconds"] == 900
    # No signature label: EAS labels take at most 128 bytes and no ',' or '='.
    assert "pai-jupyter.signature" not in body["labels"]
    assert all(len(v.encode()) <= 128 and "," not in v and "=" not in v for v in body["labels"].values())
    json.dumps(body)  # plain JSON, nothing else


@pytest.mark.parametrize("processor", ["onnx", "torchscript", "tensorflow", "sklearn", "xgboost"])
def test_every_format_runs_our_model_server_in_a_container(processor: str) -> None:
    """EAS has no onnx/xgboost code and its torch/TF processors speak protobuf: no built-in code."""
    spec = ServiceSpec("m", processor)
    body = spec.to_eas("oss://b/m/")
    assert "processor" not in body
    (container,) = body["containers"]
    assert container["command"] == OWN_SERVER_COMMAND
    assert {"name": "PAI_PROCESSOR", "value": processor} in container["env"]
    assert body["storage"][0] == {
        "mount_path": "/eas/workspace/model",
        "oss": {"path": "oss://b/m/", "readOnly": True},
    }
    assert ServiceSpec.from_eas(body) == spec


def test_gpu_on_the_public_pool_goes_by_instance_type() -> None:
    spec = ServiceSpec("g", "torchscript", gpu=1, instance_type="ecs.gn6i-c4g1.xlarge")
    body = spec.to_eas("oss://b/g/")
    assert body["cloud"] == {"computing": {"instance_type": "ecs.gn6i-c4g1.xlarge"}}
    assert "gpu" not in body["metadata"]
    assert ServiceSpec.from_eas(body) == spec
    with pytest.raises(ValidationError, match="needs a GPU instance type"):
        ServiceSpec("g", "torchscript", gpu=1).validate()
    dedicated = ServiceSpec("g", "torchscript", gpu=2, resource_group="eas-r-abc")
    assert dedicated.to_eas("oss://b/g/")["metadata"]["gpu"] == 2


def test_elastic_inference_maps_to_the_service_json_or_is_refused() -> None:
    spec = ServiceSpec("e", "onnx", instance_type="ecs.c6.xlarge", elastic_inference="eais.ei-a6.2xlarge")
    body = spec.to_eas("oss://b/e/")
    assert body["cloud"] == {
        "computing": {"instance_type": "ecs.c6.xlarge"},
        "eais": {"type": "eais.ei-a6.2xlarge"},
    }
    assert ServiceSpec.from_eas(body) == spec
    for bad, message in [
        (spec.with_changes(gpu=1), "already asks for GPUs"),
        (spec.with_changes(resource_group="eas-r-abc"), "not to a dedicated resource group"),
        (spec.with_changes(instance_type=None), "needs the CPU instance type"),
        (spec.with_changes(instance_type="ecs.gn6i-c4g1.xlarge"), "is a GPU type"),
        (spec.with_changes(elastic_inference="a6"), "is not valid"),
    ]:
        with pytest.raises(ValidationError, match=message):
            bad.validate()


def test_custom_processor_becomes_a_container_listening_on_the_port_env() -> None:
    spec = ServiceSpec("echo", "custom", command="python serve.py --workers 2", image="registry/echo:1")
    body = spec.to_eas("oss://b/echo/")
    assert "processor" not in body
    (container,) = body["containers"]
    assert container["command"] == "python serve.py --workers 2"
    assert container["port"] == CONTAINER_PORT == 8000
    assert {"name": PORT_ENV, "value": "8000"} in container["env"]
    assert container["image"] == "registry/echo:1"
    assert ServiceSpec.from_eas(body) == spec


def test_sklearn_runs_our_server_in_the_regions_image() -> None:
    spec = ServiceSpec("iris", "sklearn")
    body = spec.to_eas("oss://b/iris/", region="cn-shanghai")
    (container,) = body["containers"]
    assert container["command"] == OWN_SERVER_COMMAND
    assert "cn-shanghai" in container["image"]
    assert body["storage"][0]["oss"]["path"] == "oss://b/iris/"
    assert ServiceSpec.from_eas(body) == spec


@pytest.mark.parametrize(
    "spec",
    [
        full_spec(),
        full_spec(name="digits-svc"),  # '-' is ours only; EAS gets digits_svc
        full_spec(env="prod", autoscaler=AutoscalePolicy(min=2, max=4, tolerance=0.2)),
        full_spec(autoscaler=None, signature=None, token=None, resource_group=None, env="dev"),
        ServiceSpec("gpu_model", "torchscript", gpu=2, cpu=8.5, memory_mb=30000, resource_group="eas-r-1"),
        ServiceSpec("gpu_pool", "onnx", gpu=1, instance_type="ecs.gn6i-c4g1.xlarge"),
        ServiceSpec("m", "xgboost", max_body_bytes=123456),
    ],
)
def test_eas_round_trip_is_exact(spec: ServiceSpec) -> None:
    """Exact but for the signature, which the aliyun backend keeps in the service's OSS state."""
    body = spec.to_eas("oss://demo/models/x/")
    assert ServiceSpec.from_eas(body) == spec.with_changes(signature=None)
    # and through JSON text, as a user would save it
    assert ServiceSpec.from_eas(json.loads(json.dumps(body))) == spec.with_changes(signature=None)


def test_dash_names_become_eas_names() -> None:
    body = full_spec(name="digits-svc").to_eas("oss://b/m")
    assert body["name"] == "digits_svc"
    assert body["labels"]["pai-jupyter.name"] == "digits-svc"


def test_from_eas_reads_a_console_written_json() -> None:
    body = {
        "metadata": {"name": "console_svc", "instance": 3, "cpu": 2, "memory": 4000},
        "processor": "pytorch_gpu_1.9",
        "model_path": "oss://b/m.pt",
        "autoscaler": {"min": 1, "max": 5, "strategies": {"qps": 10}},
    }
    spec = ServiceSpec.from_eas(body)
    assert (spec.name, spec.processor, spec.instances, spec.cpu, spec.memory_mb) == (
        "console_svc",
        "torchscript",
        3,
        2.0,
        4000,
    )
    assert spec.autoscaler == AutoscalePolicy(min=1, max=5, qps_per_instance=10.0)
    spec.validate()


def test_from_eas_refuses_unknown_processors() -> None:
    with pytest.raises(ValidationError, match="'pmml' is not one pai-jupyter serves"):
        ServiceSpec.from_eas({"name": "x", "processor": "pmml", "metadata": {"instance": 1}})
    with pytest.raises(ValidationError, match="no name"):
        ServiceSpec.from_eas({"processor": "onnx"})


# -- JSON ----------------------------------------------------------------------------
def test_dict_round_trip() -> None:
    spec = full_spec()
    data = json.loads(json.dumps(spec.to_dict()))
    assert ServiceSpec.from_dict(data) == spec
    with pytest.raises(ValidationError, match="unknown service spec field"):
        ServiceSpec.from_dict({**data, "replicas": 3})


# -- validation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Digits"}, "service name 'Digits' is not valid"),
        ({"name": "9lives"}, "is not valid"),
        ({"name": "a" * 65}, "is not valid"),
        ({"name": "with space"}, "is not valid"),
        ({"processor": "caffe"}, "processor 'caffe' is not supported"),
        ({"processor": "custom"}, "custom processor needs a command"),
        ({"command": "python x.py"}, "--command is only for the custom processor"),
        ({"env": "production"}, "environment 'production' is unknown"),
        ({"cpu": 0}, "--cpu must be positive"),
        ({"memory_mb": 10}, "--memory must be at least 64 MB"),
        ({"gpu": -1}, "--gpu"),
        ({"max_body_bytes": 0}, "--max-body"),
        ({"token": "short"}, "--token"),
        ({"instances": 9}, "outside the autoscaler's range"),
        ({"signature": {"inputs": [{"dtype": "f"}]}}, "needs a name"),
        ({"signature": {"inputs": [], "extra": 1}}, "only 'inputs' and 'outputs'"),
        ({"autoscaler": None, "instances": 0}, "--instances 0 without an autoscaler"),
    ],
)
def test_validation_names_the_bad_field(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        full_spec(**changes).validate()
    assert "\n" not in str(info.value)


def test_prod_needs_a_real_minimum_and_says_why() -> None:
    spec = full_spec(env="prod")  # min 0, scale to zero
    with pytest.raises(ValidationError) as info:
        spec.validate()
    assert "prod services need --min 1 or more" in info.value.message
    assert "cold start" in (info.value.hint or "")
    full_spec(env="prod", instances=2, autoscaler=AutoscalePolicy(min=1, max=4)).validate()


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (AutoscalePolicy(min=3, max=2), "--min 3 is above --max 2"),
        (AutoscalePolicy(min=1, max=1001), "limit of 1000"),
        (AutoscalePolicy(min=0, max=2), "--min 0 means scale to zero"),
        (AutoscalePolicy(min=1, max=2, scale_to_zero=True), "--scale-to-zero needs --min 0"),
        (AutoscalePolicy(qps_per_instance=0), "--qps-per-instance must be positive"),
        (AutoscalePolicy(scale_in_cooldown_s=-1), "--scale-in-cooldown"),
        (AutoscalePolicy(tolerance=1.5), "tolerance"),
    ],
)
def test_autoscaler_validation(policy: AutoscalePolicy, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy.validate("dev")


def test_autoscaler_body_is_the_camelcase_update_body() -> None:
    policy = AutoscalePolicy(min=1, max=10, qps_per_instance=35.5, scale_in_cooldown_s=240, idle_grace_s=600)
    body = policy.to_eas_autoscaler()
    assert body == {
        "min": 1,
        "max": 10,
        "scaleStrategies": [{"metricName": "qps", "threshold": 35.5}],
        "behavior": {
            "scaleDown": {"stabilizationWindowSeconds": 240},
            "onZero": {"scaleDownGracePeriodSeconds": 600},
        },
    }
    assert AutoscalePolicy.from_eas_autoscaler(body) == policy
    zero = AutoscalePolicy(min=0, max=3, scale_to_zero=True, idle_grace_s=60)
    assert AutoscalePolicy.from_eas_autoscaler(zero.to_eas_autoscaler()) == zero
    assert AutoscalePolicy.from_dict(json.loads(json.dumps(zero.to_dict()))) == zero


def test_autoscaler_from_describe_response_and_missing_qps() -> None:
    policy = AutoscalePolicy.from_eas_autoscaler(
        {"MinReplica": 2, "MaxReplica": 6, "scaleStrategies": [{"metricName": "QPS", "threshold": 12}]}
    )
    assert (policy.min, policy.max, policy.qps_per_instance) == (2, 6, 12.0)
    with pytest.raises(ValidationError, match="no qps strategy"):
        AutoscalePolicy.from_eas_autoscaler({"min": 1, "max": 2, "scaleStrategies": [{"metricName": "cpu"}]})


# -- rollout plan ------------------------------------------------------------------------
def test_plan_parse_and_round_trip() -> None:
    plan = RolloutPlan.parse("10, 50,100", bake_s=30, max_p95_ms=250)
    assert plan.steps == (10.0, 50.0, 100.0)
    assert plan.steps_text == "10,50,100"
    assert RolloutPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert "steps" not in plan.gates() and plan.gates()["bake_s"] == 30
    assert RolloutPlan.parse("25%,100%").steps == (25.0, 100.0)
    assert RolloutPlan(steps=[5, 100]).steps == (5.0, 100.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10,50", "must end at 100"),
        ("50,10,100", "must increase"),
        ("10,10,100", "must increase"),
        ("0,100", "outside"),
        ("10,150", "outside"),
        ("ten,100", "not a list of percentages"),
        ("", "no steps"),
    ],
)
def test_plan_validation(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RolloutPlan.parse(text)


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ({"bake_s": -1}, "--bake"),
        ({"min_requests": -5}, "--min-requests"),
        ({"max_p95_ms": 0}, "--max-p95-ms"),
        ({"max_error_rate": 5}, "--max-error-rate must be between 0 and 1"),
        ({"max_p95_ratio": 0.5}, "--max-p95-ratio"),
    ],
)
def test_plan_gate_validation(gates: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RolloutPlan(**gates).validate()
