"""EAS serving against the fake EAS: CreateService from the eascmd JSON, ReleaseService
weight steps of a gated rollout (pass and revert), rollback by version, the autoscaler API,
endpoint and token from DescribeService, and predictions through the group endpoint."""

from __future__ import annotations

import pytest

from pai_jupyter.api.services import PredictError, get_service
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import ConflictError, NotFoundError, ValidationError
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes

pytestmark = pytest.mark.slow

SIG = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []}
PLAN = RolloutPlan(steps=(20.0, 60.0, 100.0), bake_s=0.2, min_requests=5)


@pytest.fixture
def serving(aliyun: Backend, fakes: AliyunFakes):
    for name in ("m1", "m2", "broken"):
        path = fakes.oss.path(BUCKET, f"models/{name}/model.onnx")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"onnx")
    aliyun.serving.tick = 0.1
    yield aliyun.serving
    assert not fakes.eas.errors, f"the backend broke the EAS contract: {fakes.eas.errors}"  # type: ignore[union-attr]


def _spec(**kw: object) -> ServiceSpec:
    kw.setdefault("signature", SIG)
    return ServiceSpec(name="digits-svc", processor="onnx", **kw)  # type: ignore[arg-type]


def _releases(fakes: AliyunFakes) -> list[tuple[str, dict]]:
    return [(r.path.split("/")[5], r.json) for r in fakes.eas.calls("ReleaseService")]  # type: ignore[union-attr]


def test_create_service_request_and_first_version(serving, fakes: AliyunFakes, aliyun: Backend) -> None:
    spec = _spec(instances=2, cpu=2, memory_mb=4096, env="staging", autoscaler=AutoscalePolicy(min=1, max=4))
    record = serving.deploy(spec, f"oss://{BUCKET}/models/m1/", job_id="dlc123")
    (create,) = fakes.eas.calls("CreateService")
    assert (create.method, create.path) == ("POST", "/api/v2/services")
    assert create.headers["x-acs-version"] == "2021-07-01" and create.query == {"WorkspaceId": "ws-test"}
    body = create.json
    token = body.pop("token")
    expected = spec.to_eas(f"oss://{BUCKET}/models/m1/")
    assert body["name"] == "digits_svc_v1" and body["processor"] == expected["processor"] == "onnx"
    assert body["model_path"] == f"oss://{BUCKET}/models/m1/"
    assert body["metadata"] == {**expected["metadata"], "group": "digits_svc", "workspace_id": "ws-test"}
    assert body["autoscaler"] == expected["autoscaler"]
    assert body["labels"] == {
        **expected["labels"],
        "pai-jupyter.service": "digits-svc",
        "pai-jupyter.version": "1",
        "pai-jupyter.job": "dlc123",
    }
    assert len(token) >= 24
    assert _releases(fakes) == [("digits_svc_v1", {"Weight": 100, "TrafficState": "grouping"})]
    assert record.state == "Running" and record.backend == "aliyun" and record.env == "staging"
    assert record.endpoint == f"http://{fakes.eas.endpoint}/api/predict/digits_svc"  # type: ignore[union-attr]
    assert (
        record.weights == {1: 100.0}
        and record.versions[0].instances == 2
        and record.versions[0].job_id == "dlc123"
    )
    assert serving.token("digits-svc") == token
    svc = get_service("digits-svc", backend=aliyun)
    assert svc.predict([[1, 2, 3, 4]])["outputs"] == [[1, 2, 3, 4]]
    assert svc.predict([[4, 3, 2, 1]], signed=True)["outputs"] == [[4, 3, 2, 1]]  # eas-prediction's signature
    predict = fakes.eas.requests[-1]  # type: ignore[union-attr]
    assert predict.path == "/api/predict/digits_svc" and predict.headers["authorization"].startswith("EAS ")
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
    rollout = get_service("digits-svc", backend=aliyun).wait_rollout(timeout=30, poll=0.1)
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
    assert get_service("digits-svc", backend=aliyun).predict([[0, 0, 0, 1]])["served_by"] == "digits_svc_v2"
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
    for _ in range(100):
        record = serving.reconcile_service("digits-svc")  # reads never write: reconcile advances
        if not record.rollout.active:
            break
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
    assert len(update) == 1 and len(create) == 1  # update answered 404: no autoscaler yet, so create
    assert create[0].method == "POST" and create[0].path == "/api/v2/services/cn-hangzhou/digits_svc_v1/autoscaler"
    assert create[0].json == policy.to_eas_autoscaler()
    assert record.autoscaler == policy.to_dict()
    serving.set_autoscaler("digits-svc", policy.with_changes(max=9))
    last = fakes.eas.calls("UpdateServiceAutoScaler")[-1]
    assert last.method == "PUT" and last.json["max"] == 9
    assert fakes.eas.services["digits_svc_v1"].autoscaler["max"] == 9  # type: ignore[union-attr]


def test_health_figures_without_a_signature(serving, fakes: AliyunFakes) -> None:
    spec = ServiceSpec(name="nosig", processor="onnx")
    serving.deploy(spec, f"oss://{BUCKET}/models/m1/")
    serving.deploy(
        spec, f"oss://{BUCKET}/models/m2/", plan=RolloutPlan(steps=(50.0, 100.0), bake_s=0, min_requests=2)
    )
    for _ in range(50):
        record = serving.reconcile_service("nosig")
        if not record.rollout.active:
            break
    assert record.rollout.state == "succeeded"
    assert record.rollout.steps[0].figures["source"] == "instance health"
    assert not [r for r in fakes.eas.requests if r.path.startswith("/api/predict/")]


def test_failed_version_and_unknown_service(serving, fakes: AliyunFakes) -> None:
    with pytest.raises(ValidationError) as err:
        serving.deploy(_spec(), f"oss://{BUCKET}/models/broken/")
    assert "digits_svc_v1" in str(err.value) and "could not load the model" in str(err.value)
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
