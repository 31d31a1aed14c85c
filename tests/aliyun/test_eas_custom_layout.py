"""The PAI SDK's serving layout on EAS: --code and the model arrive as the service JSON's storage
mounts (/ml/usercode/, /eas/workspace/model), the command as container_serving_spec's script, the
requirements as prepare.pythonRequirements; the fake EAS runs the SDK's example unchanged."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pai_jupyter.api.services import deploy
from pai_jupyter.backends.base import Backend
from pai_jupyter.specs.service import ServiceSpec
from tests.aliyun.conftest import BUCKET, AliyunFakes

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pai_sdk"


def test_service_json_carries_the_code_and_model_mounts(aliyun: Backend, fakes: AliyunFakes) -> None:
    model = fakes.oss.path(BUCKET, "models/xgb/model.json")
    model.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "xgb_model" / "model.json", model)
    svc = deploy(
        "xgb-svc",
        f"oss://{BUCKET}/models/xgb/",
        command="python serving.py",
        code=FIXTURES / "xgb_serving",
        requirements=["xgboost", "fastapi", "uvicorn"],
        backend=aliyun,
    )
    (create,) = fakes.eas.calls("CreateService")  # type: ignore[union-attr]
    body = create.json
    (container,) = body["containers"]
    # container_serving_spec (pai/model/_model.py): script "cd /ml/usercode\n<command>", port, env,
    # prepare.pythonRequirements; the model and the code as OSS storage mounts.
    assert container["script"] == "cd /ml/usercode/\npython serving.py\n" and "command" not in container
    assert container["port"] == 8000
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "LISTENING_PORT": "8000",
        "MODEL_MOUNT_PATH": "/eas/workspace/model",
    }
    assert container["prepare"] == {"pythonRequirements": ["xgboost", "fastapi", "uvicorn"]}
    code_uri = svc.record.spec.code
    assert code_uri and code_uri.startswith(f"oss://{BUCKET}/pai-jupyter/serving-code/xgb-svc/")
    assert body["storage"] == [
        {"mount_path": "/eas/workspace/model", "oss": {"path": f"oss://{BUCKET}/models/xgb/", "readOnly": True}},
        {"mount_path": "/ml/usercode/", "oss": {"path": code_uri, "readOnly": True}},
    ]
    uploaded = fakes.oss.path(BUCKET, code_uri.split(f"{BUCKET}/", 1)[1] + "serving.py")
    assert uploaded.read_bytes() == (FIXTURES / "xgb_serving" / "serving.py").read_bytes()
    # The JSON reads back into the spec that made it (a user can take it to the console and back).
    spec = ServiceSpec.from_eas(body)
    assert (spec.processor, spec.command, spec.code, spec.requirements) == (
        "custom",
        "python serving.py",
        code_uri,
        ("xgboost", "fastapi", "uvicorn"),
    )
    # Raw np.save bytes in, raw bytes out, through EAS's data plane to the example's own route.
    df = pd.read_csv(FIXTURES / "breast_cancer_data" / "test.csv")
    payload = io.BytesIO()
    np.save(payload, df.drop(["target"], axis=1).values)
    y = np.load(io.BytesIO(svc.predict(payload.getvalue(), raw=True)))
    assert y.shape == (len(df),) and (y == df["target"].values).mean() > 0.9
