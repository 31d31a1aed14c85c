"""The PAI SDK's custom-container serving example, unchanged, on the local backend: the model at
/eas/workspace/model (MODEL_MOUNT_PATH), --code at /ml/usercode, LISTENING_PORT, --requirements
installed before start; raw np.save bytes in and out through the gateway."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import get_service
from pai_jupyter.controlplane.private_view import support
from pai_jupyter.storage.local import LocalStorage
from pai_jupyter.storage.uri import OssUri
from tests.envsync_dist import MODULE, VERSION, build_wheel

pytestmark = pytest.mark.slow
needs_view = pytest.mark.skipif(not support().available, reason=f"no private mount view here: {support().reason}")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pai_sdk"

# A second server for --requirements: it imports a package the environment lacks until installed.
NEEDS_DEMO = f"""
import os, json
from http.server import BaseHTTPRequestHandler, HTTPServer
import {MODULE}

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.do_POST()

    def do_POST(self):
        body = json.dumps({{"demo": {MODULE}.VERSION, "cwd": os.getcwd(),
                           "model": sorted(os.listdir(os.environ["MODEL_MOUNT_PATH"]))}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", int(os.environ["LISTENING_PORT"])), H).serve_forever()
"""


@pytest.fixture
def ip(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    # The example's command says `python`: the user's Python (this venv) comes first on PATH.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    yield ip


@needs_view
def test_the_sdk_xgboost_serving_example_answers_its_own_request_format(
    ip: InteractiveShell, workdir: Path, pai_home: Path
) -> None:
    model = workdir / "xgb_model"
    shutil.copytree(FIXTURES / "xgb_model", model)
    code = FIXTURES / "xgb_serving"
    ip.run_line_magic(
        "pai_deploy",
        f"xgb --model {model} --processor custom --command 'python serving.py' --code {code} --as svc",
    )
    svc = ip.user_ns["svc"]
    df = pd.read_csv(FIXTURES / "breast_cancer_data" / "test.csv")
    x = df.drop(["target"], axis=1).values
    payload = io.BytesIO()
    np.save(payload, x)  # NumpyBytesSerializer's request
    answer = svc.predict(payload.getvalue(), raw=True)
    y = np.load(io.BytesIO(answer))
    assert y.shape == (len(df),) and (y == df["target"].values).mean() > 0.9
    # The log shows it read the model where EAS mounts it, from the code folder's own script.
    log = next((pai_home / "serving" / "xgb" / "v1").glob("instance-*.log")).read_text()
    assert "model_dir is /eas/workspace/model" in log
    assert not Path("/eas").exists() and not Path("/ml").exists()  # nothing on the host
    # The code was snapshotted to storage with its provenance, as a training job's code is.
    spec = svc.record.spec
    assert spec.code and spec.code.startswith("oss://")
    storage = LocalStorage(pai_home / "storage")
    folder = storage.path_for(OssUri.parse(spec.code))
    assert (folder / "serving.py").read_bytes() == (code / "serving.py").read_bytes()
    provenance = json.loads(
        storage.read_bytes(OssUri.parse(spec.code.rstrip("/").rsplit("/", 1)[0] + "/provenance.json"))
    )
    assert provenance["source"] == str(code) and "serving.py" in provenance["files"]


@needs_view
def test_requirements_are_installed_before_start_and_reused(
    ip: InteractiveShell, workdir: Path, tmp_path: Path
) -> None:
    app = workdir / "app"
    app.mkdir()
    (app / "server.py").write_text(NEEDS_DEMO)
    (workdir / "model").mkdir()
    (workdir / "model" / "weights.bin").write_bytes(b"w")
    reqs = workdir / "requirements.txt"
    reqs.write_text(f"{build_wheel(tmp_path / 'wheels')}\n")
    for name in ("demo-a", "demo-b"):
        ip.run_line_magic(
            "pai_deploy",
            f"{name} --model {workdir / 'model'} --command 'python server.py' --code {app} --requirements {reqs}",
        )
    a, b = get_service("demo-a"), get_service("demo-b")
    reply = json.loads(a.predict(b"{}", raw=True))
    assert reply == {"demo": VERSION, "cwd": "/ml/usercode", "model": ["weights.bin"]}
    notes = [e.message for e in a.events() if "--requirements" in e.message]
    assert notes and "installed" in notes[0]
    assert any("--requirements reused" in e.message for e in b.events())
    assert json.loads(b.predict(b"{}", raw=True))["demo"] == VERSION


def test_without_a_private_view_the_model_path_is_the_host_folder(
    ip: InteractiveShell, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAI_JUPYTER_PRIVATE_VIEW", "0")  # read by the control plane this test starts
    app = workdir / "app"
    app.mkdir()
    (app / "server.py").write_text(NEEDS_DEMO)
    (workdir / "model").mkdir()
    (workdir / "model" / "weights.bin").write_bytes(b"w")
    reqs = workdir / "requirements.txt"
    reqs.write_text(f"{build_wheel(tmp_path / 'wheels')}\n")
    ip.run_line_magic(
        "pai_deploy",
        f"plain --model {workdir / 'model'} --command 'python server.py' --code {app} --requirements {reqs}",
    )
    svc = get_service("plain")
    reply = json.loads(svc.predict(b"{}", raw=True))
    assert reply["demo"] == VERSION and reply["model"] == ["weights.bin"]
    assert reply["cwd"] != "/ml/usercode" and reply["cwd"].endswith("/code")  # the uploaded snapshot
    assert any("no private view" in e.message and "MODEL_MOUNT_PATH" in e.message for e in svc.events())


def test_code_and_requirements_are_for_custom_servers_and_round_trip_through_the_service_json() -> None:
    from pai_jupyter.errors import ValidationError
    from pai_jupyter.specs.service import ServiceSpec

    with pytest.raises(ValidationError, match="--code/--requirements are for the custom processor"):
        ServiceSpec(name="m", processor="onnx", code="oss://b/code/").validate()
    spec = ServiceSpec(
        name="srv",
        processor="custom",
        command="python serving.py",
        code="oss://b/c/code/",
        requirements=("fastapi",),
        image="registry.example/me/server:1",  # a custom server on EAS runs in its own image
    )
    body = spec.to_eas("oss://b/model/")
    assert ServiceSpec.from_eas(body) == spec
    assert ServiceSpec.from_dict(spec.to_dict()) == spec
    plain = ServiceSpec(
        name="srv", processor="custom", command="python serving.py", image="registry.example/me/s:1"
    )
    assert plain.to_eas("oss://b/model/")["containers"][0]["command"] == "python serving.py"
    assert ServiceSpec.from_eas(plain.to_eas("oss://b/model/")) == plain
