"""Issue 13's must-shows against the fake EAS (which runs the deployed container):

every model format answers ``predict()`` as it does locally; a framework the runtime cannot load is
refused at deploy time; a 10 % step sends about 10 % of 1,000 requests only once ``TrafficMode`` is
customized; the group endpoint takes the group's own token; a rollout whose driver stops is reverted
by the next client after the lease deadline; the server extension's driver finishes rollouts nobody
watches; Alibaba's ``eas_prediction`` client gets the same answers as ``svc.predict()``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from pai_jupyter.api.services import get_service
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import ValidationError
from pai_jupyter.frontends.cli.main import cli
from pai_jupyter.model_server.processors import load_processor
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.serving.models import onnx_linear, sklearn_digits, torchscript_mlp, xgboost_model

pytestmark = pytest.mark.slow

# An image whose tag names Python 3.11: it can install the frameworks this venv saved models with.
PY311_IMAGE = "registry.cn-hangzhou.aliyuncs.com/team/serving:py311-ubuntu2204"
SIG4 = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []}
_ROOT = Path(__file__).resolve().parents[2]
# scripts/eas-prediction-venv.sh makes it (make test runs it); a venv of its own because
# eas-prediction pins protobuf<=3.20.3, which onnx/onnxruntime here cannot use.
EAS_PREDICTION_VENV = next(
    (
        Path(p)
        for p in (
            os.environ.get("EAS_PREDICTION_VENV"),
            _ROOT / ".eas-prediction-venv",
            _ROOT.parent / "eas-pred-venv",
        )
        if p and (Path(p) / "bin" / "python").exists()
    ),
    _ROOT / ".eas-prediction-venv",
)


@pytest.fixture
def serving(aliyun: Backend, fakes: AliyunFakes):
    aliyun.serving.tick = 0.1
    yield aliyun.serving
    assert not fakes.eas.errors, f"the backend broke the EAS contract: {fakes.eas.errors}"  # type: ignore[union-attr]


def _onnx(fakes: AliyunFakes, name: str, seed: int) -> str:
    onnx_linear(fakes.oss.path(BUCKET, f"models/{name}/model.onnx"), n_in=4, n_out=2, seed=seed)
    return f"oss://{BUCKET}/models/{name}/"


FORMATS = {
    "onnx": ("model.onnx", lambda p: onnx_linear(p, n_in=4, n_out=2), [[0.5, 1.0, -1.0, 2.0]]),
    "sklearn": ("model.pkl", sklearn_digits, [[0.1] * 64]),
    "xgboost": ("model.ubj", xgboost_model, [[1.0] * 64]),
    "torchscript": ("model.pt", lambda p: torchscript_mlp(p, example=False), [[0.25] * 8]),
}


@pytest.mark.parametrize("processor", sorted(FORMATS))
def test_each_format_answers_predict_like_locally(
    processor: str, serving, fakes: AliyunFakes, aliyun: Backend
) -> None:
    filename, build, inputs = FORMATS[processor]
    path = build(fakes.oss.path(BUCKET, f"models/{processor}/{filename}"))
    # a pickle loads only when trusted (the container is told through PAI_TRUST_PICKLE)
    trust = processor == "sklearn"
    spec = ServiceSpec(name=f"{processor}-svc", processor=processor, image=PY311_IMAGE, trust_pickle=trust)
    serving.deploy(spec, f"oss://{BUCKET}/models/{processor}/")
    (container,) = fakes.eas.calls("CreateService")[-1].json["containers"]  # type: ignore[union-attr]
    assert container["image"] == PY311_IMAGE and container["prepare"]["pythonRequirements"][0] == "numpy"
    svc = get_service(f"{processor}-svc", backend=aliyun)
    local = load_processor(processor, path, trust_pickle=trust).predict(inputs, {})
    assert svc.predict(inputs)["outputs"] == local
    # Our model server answers on the bare endpoint and on /predict, both through EAS's routing.
    body = json.dumps({"inputs": inputs}).encode()
    for url in (svc.endpoint, svc.endpoint + "/predict"):
        resp = requests.post(url, data=body, headers={"Authorization": svc.token()}, timeout=30)
        assert resp.status_code == 200 and resp.json()["outputs"] == local


def test_a_model_the_runtime_cannot_load_is_refused_with_the_versions(serving, fakes: AliyunFakes) -> None:
    import sklearn

    sklearn_digits(fakes.oss.path(BUCKET, "models/old/model.pkl"))
    with pytest.raises(ValidationError) as err:
        serving.deploy(ServiceSpec(name="iris", processor="sklearn"), f"oss://{BUCKET}/models/old/")
    text = str(err.value)
    assert f"scikit-learn {sklearn.__version__.split('+')[0]}" in text and "1.6.1" in text
    assert "python-inference:py39-ubuntu2004" in text and "Python 3.9" in text
    assert not fakes.eas.calls("CreateService")  # type: ignore[union-attr]


def test_built_in_processors_speak_protobuf_only(fakes: AliyunFakes) -> None:
    """The fake follows the PyTorch processor doc: a JSON body to ``pytorch_*`` is refused."""
    from alibabacloud_eas20210701 import models
    from alibabacloud_eas20210701.client import Client

    from pai_jupyter.backends.aliyun.credentials import openapi_config
    from pai_jupyter.config import PaiConfig

    client = Client(openapi_config(PaiConfig(), "eas"))
    for code, ok in (("onnx", False), ("xgboost", False), ("pytorch_cpu_1.10", True)):
        body = {
            "name": f"b_{code.split('_')[0]}",
            "processor": code,
            "model_path": "oss://b/m/",
            "token": "t" * 24,
        }
        body["metadata"] = {"instance": 1}
        if ok:
            client.create_service(models.CreateServiceRequest(body=json.dumps(body)))
        else:
            with pytest.raises(Exception, match="not a built-in processor code"):
                client.create_service(models.CreateServiceRequest(body=json.dumps(body)))
    fakes.eas.errors.clear()  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while fakes.eas.services["b_pytorch"].status != "Running" and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)
    resp = requests.post(fakes.eas.url("b_pytorch"), json={"inputs": [[1.0]]}, headers={"Authorization": "t" * 24})  # type: ignore[union-attr]
    assert resp.status_code == 400 and b"protobuf" in resp.content


def _share_of_v2(fakes: AliyunFakes, url: str, token: str, n: int = 1000) -> float:
    v2 = fakes.eas.services["digits_svc_v2"]  # type: ignore[union-attr]
    before = v2.routed
    session = requests.Session()
    body = json.dumps({"inputs": [[1.0, 2.0, 3.0, 4.0]]}).encode()
    for _ in range(n):
        assert session.post(url, data=body, headers={"Authorization": token}, timeout=30).status_code == 200
    return (v2.routed - before) / n


def test_ten_percent_means_ten_percent_only_with_traffic_mode_customized(
    serving, fakes: AliyunFakes, aliyun: Backend
) -> None:
    spec = ServiceSpec(name="digits-svc", processor="onnx", signature=SIG4)
    serving.deploy(spec, _onnx(fakes, "m1", 1))
    serving.deploy(spec, _onnx(fakes, "m2", 2), plan=RolloutPlan(steps=(10.0, 100.0), bake_s=600))
    svc = get_service("digits-svc", backend=aliyun)
    assert svc.record.weights == {1: 90.0, 2: 10.0}
    group = fakes.eas.groups["digits_svc"]  # type: ignore[union-attr]
    assert group.traffic_mode == "customized"
    share = _share_of_v2(fakes, svc.endpoint, svc.token())
    assert 0.07 <= share <= 0.13, share
    # What the same weights would do in the group's default mode: split by instance count (1:1).
    group.traffic_mode = "auto"
    share_auto = _share_of_v2(fakes, svc.endpoint, svc.token())
    assert 0.40 <= share_auto <= 0.60, share_auto


def test_a_rollout_whose_driver_stops_is_reverted_after_the_lease(
    serving, fakes: AliyunFakes, aliyun: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving.lease_s = 1.5
    monkeypatch.setattr(serving, "_watch", lambda name: None)  # the kernel that started it is gone
    spec = ServiceSpec(name="digits-svc", processor="onnx", signature=SIG4)
    serving.deploy(spec, _onnx(fakes, "m1", 1))
    serving.deploy(spec, _onnx(fakes, "m2", 2), plan=RolloutPlan(steps=(10.0, 50.0, 100.0), bake_s=600))
    # Before the deadline: `rollout status` says who drives it and when the lease ends; nothing moves.
    result = CliRunner().invoke(cli, ["services", "rollout", "digits-svc", "status", "--backend", "aliyun"])
    assert result.exit_code == 0, result.output
    assert "driver: python process pid" in result.output and "lease ends" in result.output
    assert serving.get("digits-svc").weights == {1: 90.0, 2: 10.0}
    time.sleep(1.7)
    # Another client (another workspace) sees the service past the deadline and reverts it.
    other = type(serving)(serving.config, serving.storage)
    other.origin = "dsw-other"
    record = other.reconcile_service("digits-svc", drive=False)
    assert record.rollout.state == "failed" and record.weights == {1: 100.0}
    assert "no driver renewed the rollout's lease" in record.rollout.reason
    (revert,) = [e for e in serving.events("digits-svc") if e.kind == "revert"]
    assert "traffic back on v1" in revert.message and revert.data["lease"]["origin"] == serving.origin
    assert serving.lease("digits-svc") is None
    again = other.reconcile_service("digits-svc")  # idempotent: nothing left to do
    assert again.rollout.state == "failed" and len(fakes.eas.calls("ReleaseService")) == 5  # type: ignore[union-attr]


def test_the_server_extension_driver_finishes_rollouts_nobody_watches(
    serving, fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.server.context import PaiContext
    from pai_jupyter.server.rollouts import RolloutDriver

    monkeypatch.setattr(serving, "_watch", lambda name: None)  # the notebook closed right after deploying
    spec = ServiceSpec(
        name="digits-svc", processor="onnx", signature=SIG4, autoscaler=AutoscalePolicy(min=1, max=2)
    )
    serving.deploy(spec, _onnx(fakes, "m1", 1))
    serving.deploy(
        spec,
        _onnx(fakes, "m2", 2),
        plan=RolloutPlan(steps=(20.0, 100.0), bake_s=0.2, min_requests=5, max_p95_ratio=1000),
    )
    context = PaiContext(PaiConfig())
    try:
        driver = RolloutDriver(context)
        driver.context.backend().serving.tick = 0.1  # same backend object: the registry caches it
        deadline = time.monotonic() + 60
        while serving.get("digits-svc").rollout.active and time.monotonic() < deadline:
            assert driver.tick() == ["digits-svc"]
            time.sleep(0.05)
    finally:
        context.close()
    record = serving.get("digits-svc")
    assert record.rollout.state == "succeeded" and record.weights == {2: 100.0}
    assert driver.tick() == []  # the rollout left the active index
    # EAS's own QPS figure (DescribeServiceAutoScaler CurrentMetrics) beside the probes' figures.
    first = record.rollout.steps[0].figures
    assert first["source"] == "client probes" and first["eas_qps"]["2"] > 0 and first["eas_qps"]["1"] > 0
    assert serving.lease("digits-svc") is None


@pytest.mark.skipif(
    not (EAS_PREDICTION_VENV / "bin" / "python").exists(),
    reason=f"no eas-prediction venv at {EAS_PREDICTION_VENV} (create it with scripts/eas-prediction-venv.sh)",
)
def test_alibabas_eas_prediction_client_gets_the_same_answers(
    serving, fakes: AliyunFakes, aliyun: Backend
) -> None:
    spec = ServiceSpec(name="digits-svc", processor="onnx", signature=SIG4)
    serving.deploy(spec, _onnx(fakes, "m1", 1))
    svc = get_service("digits-svc", backend=aliyun)
    inputs = [[1.0, -2.0, 3.5, 0.25], [0.0, 0.0, 0.0, 1.0]]
    script = (
        "import json, sys\n"
        "from eas_prediction import PredictClient, StringRequest\n"
        "endpoint, group, token, body = sys.argv[1:5]\n"
        "client = PredictClient(endpoint, group)\n"
        "client.set_token(token)\n"
        "client.init()\n"
        "print(client.predict(StringRequest(body)).response_data.decode())\n"
    )
    out = subprocess.run(
        [
            str(EAS_PREDICTION_VENV / "bin" / "python"),
            "-c",
            script,
            f"http://{fakes.eas.endpoint}",  # type: ignore[union-attr]
            "digits_svc",
            svc.token(),
            json.dumps({"inputs": inputs}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["outputs"] == svc.predict(inputs)["outputs"]
    predict = [r for r in fakes.eas.requests if r.path == "/api/predict/digits_svc"]  # type: ignore[union-attr]
    assert predict[0].headers["authorization"].startswith("EAS ")  # signed with the group's token


def test_gpu_and_elastic_inference_reach_the_service_json(serving, fakes: AliyunFakes, monkeypatch) -> None:
    url = _onnx(fakes, "m1", 1)
    gpu = ServiceSpec(name="gpu-svc", processor="onnx", gpu=1, instance_type="ecs.gn6i-c4g1.xlarge")
    serving.deploy(gpu, url)
    body = fakes.eas.calls("CreateService")[-1].json  # type: ignore[union-attr]
    assert (
        body["cloud"] == {"computing": {"instance_type": "ecs.gn6i-c4g1.xlarge"}} and "gpu" not in body["metadata"]
    )
    assert body["containers"][0]["prepare"]["pythonRequirements"][-1].startswith("onnxruntime-gpu==")
    ei = ServiceSpec(
        name="ei-svc", processor="onnx", instance_type="ecs.c6.xlarge", elastic_inference="eais.ei-a6.2xlarge"
    )
    serving.deploy(ei, url)
    body = fakes.eas.calls("CreateService")[-1].json  # type: ignore[union-attr]
    assert body["cloud"]["eais"] == {"type": "eais.ei-a6.2xlarge"}
    monkeypatch.setattr(serving, "cluster", "ap-southeast-1")
    with pytest.raises(ValidationError, match="Elastic Inference is not offered in ap-southeast-1"):
        serving.deploy(ei.with_changes(name="ei-sg"), url)


def test_pai_deploy_refuses_elastic_inference_it_cannot_map(fakes: AliyunFakes) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    try:
        onnx_linear(fakes.oss.path(BUCKET, "models/m1/model.onnx"), n_in=4, n_out=2)
        line = (
            f"ei --model oss://{BUCKET}/models/m1/ --no-widget --gpu 1 "
            "--instance-type ecs.gn6i-c4g1.xlarge --elastic-inference eais.ei-a6.2xlarge"
        )
        with pytest.raises(UsageError, match="Elastic Inference attaches GPU capacity to CPU instances"):
            shell.run_line_magic("pai_deploy", line)
    finally:
        shell.extension_manager.unload_extension("pai_jupyter")
        InteractiveShell.clear_instance()
    assert not fakes.eas.calls("CreateService")  # type: ignore[union-attr]


def test_the_fake_refuses_labels_eas_refuses(fakes: AliyunFakes) -> None:
    from tests.aliyun.fakes.eas import validate_service

    base = {"name": "x", "containers": [{"image": "i", "command": "c", "port": 8000}], "metadata": {"instance": 1}}
    assert validate_service({**base, "labels": {"k": "a=b"}}) is not None
    assert validate_service({**base, "labels": {"k": "a,b"}}) is not None
    assert validate_service({**base, "labels": {"k": "v" * 129}}) is not None
    assert validate_service({**base, "labels": {"k": "v" * 128}}) is None


def test_another_workspaces_server_reverts_an_expired_rollout_but_never_drives_it(
    serving, fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.server.context import PaiContext
    from pai_jupyter.server.rollouts import RolloutDriver

    serving.lease_s = 1.5
    monkeypatch.setattr(serving, "_watch", lambda name: None)
    spec = ServiceSpec(name="digits-svc", processor="onnx", signature=SIG4)
    serving.deploy(spec, _onnx(fakes, "m1", 1))
    serving.deploy(spec, _onnx(fakes, "m2", 2), plan=RolloutPlan(steps=(10.0, 100.0), bake_s=0.2, min_requests=5))
    context = PaiContext(PaiConfig())
    try:
        driver = RolloutDriver(context)
        monkeypatch.setattr(serving, "origin", "dsw-elsewhere")  # this server is another workspace's
        releases = len(fakes.eas.calls("ReleaseService"))  # type: ignore[union-attr]
        assert driver.tick() == [] and serving.get("digits-svc").rollout.active
        assert len(fakes.eas.calls("ReleaseService")) == releases  # type: ignore[union-attr]
        time.sleep(1.7)
        assert driver.tick() == []
    finally:
        context.close()
    record = serving.get("digits-svc")
    assert record.rollout.state == "failed" and record.weights == {1: 100.0}
    assert "no driver renewed the rollout's lease" in record.rollout.reason
