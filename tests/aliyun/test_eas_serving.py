"""EAS serving against the fake EAS: CreateService from the eascmd JSON (our model server in a
container, run for real by the fake), ReleaseService weight steps of a gated rollout driven by
``reconcile_service`` (pass and revert), rollback by version, the autoscaler API, endpoint and
token from DescribeGroup, and predictions through the group endpoint."""

from __future__ import annotations

import time

import pytest

from pai_jupyter.api.predict import PredictError
from pai_jupyter.api.services import get_service
from pai_jupyter.backends.aliyun.eas_runtime import SERVER_REQUIREMENTS
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import ConflictError, NotFoundError, ValidationError
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.serving.models import onnx_linear

pytestmark = pytest.mark.slow

SIG = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []}
# The relative latency gate off: these tests are about weights and driving, and on a loaded
# machine the probes of two real containers differ by more than 1.5x.
PLAN = RolloutPlan(steps=(20.0, 60.0, 100.0), bake_s=0.2, min_requests=5, max_p95_ratio=1000)


@pytest.fixture
def serving(aliyun: Backend, fakes: AliyunFakes):
    onnx_linear(fakes.oss.path(BUCKET, "models/m1/model.onnx"), n_in=4, n_out=2, seed=1)
    onnx_linear(fakes.oss.path(BUCKET, "models/m2/model.onnx"), n_in=4, n_out=2, seed=2)
    broken = fakes.oss.path(BUCKET, "models/broken/model.onnx")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not an onnx file")
    aliyun.serving.tick = 0.1
    yield aliyun.serving
    assert not fakes.eas.errors, f"the backend broke the EAS contract: {fakes.eas.errors}"  # type: ignore[union-attr]


def _spec(**kw: object) -> ServiceSpec:
    kw.setdefault("signature", SIG)
    return ServiceSpec(name="digits-svc", processor="onnx", **kw)  # type: ignore[arg-type]


def _releases(fakes: AliyunFakes) -> list[tuple[str, dict]]:
    return [(r.path.split("/")[5], r.json) for r in fakes.eas.calls("ReleaseService")]  # type: ignore[union-attr]


def _local_outputs(fakes: AliyunFakes, model: str, inputs: list) -> list:
    """What our processor answers locally for the same model file."""
    from pai_jupyter.model_server.processors import load_processor

    return load_processor("onnx", fakes.oss.path(BUCKET, f"models/{model}/model.onnx")).predict(inputs, {})


def _reconcile_until_done(serving, name: str, limit: float = 60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        record = serving.reconcile_service(name)
        if record.rollout is None or not record.rollout.active:
            return record
        time.sleep(0.05)
    raise AssertionError(f"the rollout of {name} did not end in {limit}s")


def test_create_service_request_and_first_version(serving, fakes: AliyunFakes, aliyun: Backend) -> None:
    spec = _spec(instances=2, cpu=2, memory_mb=4096, env="staging", autoscaler=AutoscalePolicy(min=1, max=4))
    record = serving.deploy(spec, f"oss://{BUCKET}/models/m1/", job_id="dlc123")
    (create,) = fakes.eas.calls("CreateService")
    assert (create.method, create.path) == ("POST", "/api/v2/services")
    assert create.headers["x-acs-version"] == "2021-07-01" and create.query == {"WorkspaceId": "ws-test"}
    body = create.json
    token = body.pop("token")
    expected = spec.to_eas(f"oss://{BUCKET}/models/m1/")
    assert body["name"] == "digits_svc_v1" and "processor" not in body  # no built-in code: our container
    (container,) = body["containers"]
    assert container["command"] == "python -m pai_jupyter.model_server.eas_container"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "LISTENING_PORT": "8000",
        "PAI_PROCESSOR": "onnx",
        "PAI_MODEL_DIR": "/eas/workspace/model",
        "PYTHONPATH": "/ml/usercode",
    }
    # ONNX files carry their opset: the newest onnxruntime the image's Python 3.9 installs.
    assert container["prepare"] == {"pythonRequirements": [*SERVER_REQUIREMENTS, "onnxruntime==1.19.2"]}
    model_mount, runtime_mount = body["storage"]
    assert model_mount == {
        "mount_path": "/eas/workspace/model",
        "oss": {"path": f"oss://{BUCKET}/models/m1/", "readOnly": True},
    }
    assert runtime_mount["mount_path"] == "/ml/usercode"
    assert runtime_mount["oss"]["path"].startswith(f"oss://{BUCKET}/pai-jupyter/runtime/")
    assert body["metadata"] == {**expected["metadata"], "group": "digits_svc", "workspace_id": "ws-test"}
    assert body["autoscaler"] == expected["autoscaler"]
    assert body["labels"] == {
        **expected["labels"],
        "pai-jupyter.service": "digits-svc",
        "pai-jupyter.version": "1",
        "pai-jupyter.job": "dlc123",
    }
    assert not any("signature" in k for k in body["labels"])  # kept in the OSS state, not a label
    assert len(token) >= 24
    assert _releases(fakes) == [("digits_svc_v1", {"Weight": 100, "TrafficState": "grouping"})]
    assert record.state == "Running" and record.backend == "aliyun" and record.env == "staging"
    assert record.endpoint == f"http://{fakes.eas.endpoint}/api/predict/digits_svc"  # type: ignore[union-attr]
    assert (
        record.weights == {1: 100.0}
        and record.versions[0].instances == 2
        and record.versions[0].job_id == "dlc123"
        and record.versions[0].signature == SIG
    )
    group_token = fakes.eas.groups["digits_svc"].token  # type: ignore[union-attr]
    assert serving.token("digits-svc") == group_token != token  # the group's own token (DescribeGroup)
    svc = get_service("digits-svc", backend=aliyun)
    # The deployed model answers (the fake runs our container), the same as our processor locally.
    assert svc.predict([[1, 2, 3, 4]])["outputs"] == _local_outputs(fakes, "m1", [[1, 2, 3, 4]])
    predict = fakes.eas.requests[-1]  # type: ignore[union-attr]
    assert predict.path == "/api/predict/digits_svc" and predict.headers["authorization"] == group_token
    signed = svc.predict([[4, 3, 2, 1]], signed=True)["outputs"]  # eas-prediction's signature
    assert signed == _local_outputs(fakes, "m1", [[4, 3, 2, 1]])
    predict = fakes.eas.requests[-1]  # type: ignore[union-attr]
    assert predict.path == "/api/predict/digits_svc" and predict.headers["authorization"].startswith("EAS ")
    # One version's own endpoint takes that service's token.
    assert svc.predict([[1, 2, 3, 4]], version=1)["outputs"] == _local_outputs(fakes, "m1", [[1, 2, 3, 4]])
    assert fakes.eas.requests[-1].headers["authorization"] == token  # type: ignore[union-attr]
    svc._token = token  # a member's token is not the group's
    with pytest.raises(PredictError, match="401"):
        svc.predict([[1, 2, 3, 4]])
    svc._token = "wrong-token-0000"
    with pytest.raises(PredictError, match="401"):
        svc.predict([[1, 2, 3, 4]])
    assert [s.name for s in serving.list()] == ["digits-svc"]


def test_rollout_steps_through_release_service(serving, fakes: AliyunFakes, aliyun: Backend) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    record = serving.deploy(_spec(), f"oss://{BUCKET}/models/m2/", plan=PLAN)
    creates = [r.json for r in fakes.eas.calls("CreateService")]
    assert creates[1]["name"] == "digits_svc_v2" and creates[1]["token"] == creates[0]["token"]
    assert record.rollout is not None and record.rollout.to_version == 2
    with pytest.raises(ConflictError, match="rolling out v2"):
        serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    # TrafficMode customized (UpdateGroup) before the first weighted step, checked with DescribeGroup.
    (update,) = fakes.eas.calls("UpdateGroup")  # type: ignore[union-attr]
    assert (update.method, update.path, update.json) == (
        "PUT",
        "/api/v2/groups/cn-hangzhou/digits_svc",
        {"TrafficMode": "customized"},
    )
    first_weighted = next(r for r in fakes.eas.calls("ReleaseService") if r.json["Weight"] not in (0, 100))  # type: ignore[union-attr]
    assert fakes.eas.requests.index(update) < fakes.eas.requests.index(first_weighted)  # type: ignore[union-attr]
    rollout = get_service("digits-svc", backend=aliyun).wait_rollout(timeout=60, poll=0.1)
    assert rollout is not None and rollout.state == "succeeded"
    assert [s.weight for s in rollout.steps] == [20.0, 60.0, 100.0]
    assert all(s.result == "passed" and s.figures["source"] == "client probes" for s in rollout.steps)
    assert all(s.figures["new"]["requests"] >= 5 for s in rollout.steps)
    assert _releases(fakes)[1:] == [
        ("digits_svc_v1", {"Weight": 80, "TrafficState": "grouping"}),
        ("digits_svc_v2", {"Weight": 20, "TrafficState": "grouping"}),
        ("digits_svc_v2", {"Weight": 60, "TrafficState": "grouping"}),
        ("digits_svc_v1", {"Weight": 40, "TrafficState": "grouping"}),
        ("digits_svc_v2", {"Weight": 100, "TrafficState": "grouping"}),
        ("digits_svc_v1", {"Weight": 0, "TrafficState": "standalone"}),
    ]
    final = serving.get("digits-svc")
    assert final.weights == {2: 100.0} and final.serving_version == 2
    before = fakes.eas.services["digits_svc_v2"].served  # type: ignore[union-attr]
    answer = get_service("digits-svc", backend=aliyun).predict([[0, 0, 0, 1]])["outputs"]
    assert answer == _local_outputs(fakes, "m2", [[0, 0, 0, 1]])
    assert fakes.eas.services["digits_svc_v2"].served == before + 1  # type: ignore[union-attr]
    kinds = [e.kind for e in serving.events("digits-svc")]
    assert (
        kinds.count("gate") == 3 and kinds[-1] == "rollout"
    )  # one transition for both backends: every passed step is a gate
    points = serving.metrics("digits-svc")
    assert {p.version for p in points} == {1, 2} and all(p.error_rate == 0 for p in points)


def test_gate_breach_reverts_to_the_old_version(serving, fakes: AliyunFakes) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m2/", plan=PLAN)
    fakes.eas.services["digits_svc_v2"].behavior = {"error_rate": 1.0}  # type: ignore[union-attr]
    assert serving.get("digits-svc").rollout.active  # reads never move it
    record = _reconcile_until_done(serving, "digits-svc")
    assert record.rollout.state == "failed" and "error rate" in record.rollout.reason
    assert record.weights == {1: 100.0}
    assert _releases(fakes)[-2:] == [
        ("digits_svc_v1", {"Weight": 100, "TrafficState": "grouping"}),
        ("digits_svc_v2", {"Weight": 0, "TrafficState": "standalone"}),
    ]
    assert record.rollout.steps[-1].result == "failed" and record.rollout.steps[-1].figures["new"]["errors"] > 0
    revert = [e for e in serving.events("digits-svc") if e.kind == "revert"]
    assert len(revert) == 1 and "traffic back on v1" in revert[0].message


def test_rollback_by_version_and_rollout_actions(serving, fakes: AliyunFakes) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m2/", plan=RolloutPlan(steps=(10.0, 100.0), bake_s=600))
    paused = serving.rollout_action("digits-svc", "pause")
    assert paused.rollout.state == "paused" and paused.weights == {1: 90.0, 2: 10.0}
    promoted = serving.rollout_action("digits-svc", "promote")
    assert promoted.rollout.state == "succeeded" and promoted.weights == {2: 100.0}
    with pytest.raises(ConflictError, match="no active rollout"):
        serving.rollout_action("digits-svc", "abort")
    back = serving.rollback("digits-svc", 1)
    assert back.weights == {1: 100.0} and back.serving_version == 1
    with pytest.raises(NotFoundError, match="no version 7"):
        serving.rollback("digits-svc", 7)
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m2/", plan=RolloutPlan(steps=(50.0, 100.0), bake_s=600))
    aborted = serving.rollout_action("digits-svc", "abort")
    assert aborted.rollout.state == "aborted" and aborted.weights == {1: 100.0}
    assert [v.version for v in aborted.versions] == [1, 2, 3]


def test_autoscaler_api_bodies(serving, fakes: AliyunFakes) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    policy = AutoscalePolicy(min=2, max=8, qps_per_instance=25, scale_in_cooldown_s=120)
    record = serving.set_autoscaler("digits-svc", policy)
    update, create = fakes.eas.calls("UpdateServiceAutoScaler"), fakes.eas.calls("CreateServiceAutoScaler")
    assert len(fakes.eas.calls("DescribeServiceAutoScaler")) == 1  # read first: none yet, so create
    assert len(update) == 0 and len(create) == 1
    assert create[0].method == "POST" and create[0].path == "/api/v2/services/cn-hangzhou/digits_svc_v1/autoscaler"
    assert create[0].json == policy.to_eas_autoscaler()
    assert record.autoscaler == policy.to_dict()
    serving.set_autoscaler("digits-svc", policy.with_changes(max=9))
    assert len(fakes.eas.calls("DescribeServiceAutoScaler")) == 2
    last = fakes.eas.calls("UpdateServiceAutoScaler")[-1]
    assert last.method == "PUT" and last.json["max"] == 9
    assert fakes.eas.services["digits_svc_v1"].autoscaler["max"] == 9  # type: ignore[union-attr]


def test_health_figures_without_a_signature(serving, fakes: AliyunFakes) -> None:
    spec = ServiceSpec(name="nosig", processor="onnx")
    serving.deploy(spec, f"oss://{BUCKET}/models/m1/")
    serving.deploy(
        spec, f"oss://{BUCKET}/models/m2/", plan=RolloutPlan(steps=(50.0, 100.0), bake_s=0, min_requests=2)
    )
    record = _reconcile_until_done(serving, "nosig")
    assert record.rollout.state == "succeeded"
    assert record.rollout.steps[0].figures["source"] == "instance health"
    assert not [r for r in fakes.eas.requests if r.path.startswith("/api/predict/")]


def test_failed_version_and_unknown_service(serving, fakes: AliyunFakes) -> None:
    with pytest.raises(ValidationError) as err:
        serving.deploy(_spec(), f"oss://{BUCKET}/models/broken/")
    assert "digits_svc_v1" in str(err.value) and "the container exited" in str(err.value)
    with pytest.raises(NotFoundError, match="no service named 'nothing'"):
        serving.get("nothing")
    fakes.eas.services.clear()  # type: ignore[union-attr]
    with pytest.raises(NotFoundError) as err:
        serving._describe("gone_v1")
    assert "ServiceNotFound" in str(err.value) and "request id" in str(err.value)


def test_delete_removes_every_member(serving, fakes: AliyunFakes) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m2/", plan=RolloutPlan(steps=(100.0,), bake_s=600))
    serving.delete("digits-svc")
    assert sorted(r.path for r in fakes.eas.calls("DeleteService")) == [
        "/api/v2/services/cn-hangzhou/digits_svc_v1",
        "/api/v2/services/cn-hangzhou/digits_svc_v2",
    ]
    assert serving.list() == [] and fakes.eas.services == {}  # type: ignore[union-attr]


def test_new_api_version_is_served_beside(serving, fakes: AliyunFakes) -> None:
    serving.deploy(_spec(), f"oss://{BUCKET}/models/m1/")
    other = {"inputs": [{"name": "z", "dtype": "float32", "shape": [-1, 32]}], "outputs": []}
    with pytest.raises(ConflictError, match="signature is incompatible with v1"):
        serving.deploy(_spec(signature=other), f"oss://{BUCKET}/models/m2/", plan=PLAN)
    record = serving.deploy(_spec(signature=other), f"oss://{BUCKET}/models/m2/", new_api_version=True)
    assert record.weights == {1: 100.0} and record.rollout is None
    assert [v.version for v in record.versions] == [1, 2]
    url = serving.version_endpoint("digits-svc", 2)
    assert url == f"http://{fakes.eas.endpoint}/api/predict/digits_svc_v2"  # type: ignore[union-attr]
    assert _releases(fakes)[-1] == ("digits_svc_v2", {"Weight": 0, "TrafficState": "standalone"})
