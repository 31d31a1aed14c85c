"""The gateway over real HTTP: deploy, predict, auth, limits, signature form."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import requests

from tests.serving.helpers import deploy, post
from tests.serving.models import onnx_weights

pytestmark = pytest.mark.slow

X = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 64)


def signed_headers(token: str, body: bytes, path: str, date: str | None = None, ctype: str = "application/json"):
    md5 = hashlib.md5(body).hexdigest()
    date = date or formatdate(usegmt=True)
    to_sign = f"POST\n{md5}\n{ctype}\n{date}\n{path}".strip()
    sig = base64.b64encode(hmac.new(token.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return {"Content-MD5": md5, "Date": date, "Content-Type": ctype, "Authorization": f"EAS {sig}"}


def test_deploy_predict_auth_and_limits(backend, onnx_model: Path) -> None:
    from pai_jupyter.backends.base import ServingBackend

    assert isinstance(backend.serving, ServingBackend)
    record = deploy(backend, onnx_model, max_body_bytes=4096)
    assert record.state == "Running"
    assert [(v.version, v.weight, v.instances) for v in record.versions] == [(1, 100.0, 1)]
    assert record.versions[0].signature["inputs"] == [{"name": "x", "dtype": "float32", "shape": [None, 64]}]
    assert record.endpoint.endswith("/api/predict/svc")
    token = backend.serving.token("svc")

    # A real prediction equals the model's own arithmetic.
    resp = post(record, token, {"inputs": X.tolist()})
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-PAI-Version"] == "1"
    w, b = onnx_weights(onnx_model)
    np.testing.assert_allclose(resp.json()["outputs"], X @ w + b, rtol=1e-5)

    # The eas-prediction client's signature form.
    body = b'{"inputs": [[' + ",".join(["0.5"] * 64).encode() + b"]]}"
    path = urlparse(record.endpoint).path
    ok = requests.post(record.endpoint, data=body, headers=signed_headers(token, body, path), timeout=10)
    assert ok.status_code == 200, ok.text

    # Refusals: no token 401, wrong token 403, bad signature 403, stale date 403, tampered body 403.
    assert requests.post(record.endpoint, json={"inputs": X.tolist()}, timeout=10).status_code == 401
    assert post(record, "not-the-token", {"inputs": X.tolist()}).status_code == 403
    bad = signed_headers("wrong-token", body, path)
    assert requests.post(record.endpoint, data=body, headers=bad, timeout=10).status_code == 403
    stale = signed_headers(token, body, path, date=formatdate(timeval=1_000_000_000, usegmt=True))
    resp = requests.post(record.endpoint, data=body, headers=stale, timeout=10)
    assert resp.status_code == 403 and "Date" in resp.json()["error"]
    tampered = signed_headers(token, body, path)
    assert requests.post(record.endpoint, data=body + b" ", headers=tampered, timeout=10).status_code == 403

    # Body limit, unknown service, bad input.
    resp = requests.post(record.endpoint, data=b"x" * 5000, headers={"Authorization": token}, timeout=10)
    assert resp.status_code == 413
    base = record.endpoint.rsplit("/", 1)[0]
    assert requests.post(f"{base}/nope", json={}, headers={"Authorization": token}, timeout=10).status_code == 404
    resp = post(record, token, {"inputs": [[1.0, 2.0]]})
    assert resp.status_code == 400 and "shape" in resp.json()["error"]

    # Refused requests were counted, never served.
    live = backend.serving.live("svc")
    assert sum(live["auth_failures"].values()) == 5
    # two good predictions and the bad input, plus the 413: an authenticated refusal is the version's error
    assert live["versions"]["1"]["total_requests"] == 4
    assert live["versions"]["1"]["total_errors"] == 1
    kinds = [e.kind for e in backend.serving.events("svc")]
    assert "auth" in kinds and "deploy" in kinds


def test_sklearn_torchscript_xgboost_and_custom(backend, model_dir: Path) -> None:
    from tests.serving import models

    sk = models.sklearn_digits(model_dir / "sk" / "model.pkl")
    record = deploy(backend, sk, name="digits", processor="sklearn", trust_pickle=True)
    token = backend.serving.token("digits")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    resp = post(record, token, {"inputs": (x[:20] / 16.0).tolist()})
    assert resp.status_code == 200, resp.text
    assert np.mean(np.array(resp.json()["outputs"]) == y[:20]) > 0.9
    proba = post(record, token, {"inputs": (x[:2] / 16.0).tolist(), "method": "predict_proba"}).json()["outputs"]
    assert np.allclose(np.sum(proba, axis=1), 1.0)

    ts = models.torchscript_mlp(model_dir / "ts" / "model.pt")
    record = deploy(backend, ts.parent, name="mlp", processor="torchscript")
    assert record.versions[0].signature["inputs"][0]["shape"] == [None, 8]
    resp = post(record, backend.serving.token("mlp"), {"inputs": [[0.1] * 8, [0.2] * 8]})
    assert resp.status_code == 200 and np.asarray(resp.json()["outputs"]).shape == (2, 2)

    xg = models.xgboost_model(model_dir / "xgb" / "model.json")
    record = deploy(backend, xg, name="boost", processor="xgboost")
    resp = post(record, backend.serving.token("boost"), {"inputs": x[:3].tolist()})
    assert resp.status_code == 200 and np.asarray(resp.json()["outputs"]).shape == (3, 10)

    app = models.custom_app(model_dir / "custom-echo", tag="echo")
    record = deploy(
        backend, app, name="echo", processor="custom", command=f"{__import__('sys').executable} app.py"
    )
    token = backend.serving.token("echo")
    raw = requests.post(
        record.endpoint + "/sub/path?q=1", data=b"\x00\x01raw", headers={"Authorization": token}, timeout=10
    )
    assert raw.status_code == 200 and raw.headers["X-PAI-Version"] == "1"
    assert raw.json()["path"] == "/sub/path?q=1" and raw.json()["echo"] == "\x00\x01raw"


def test_bad_model_is_refused_with_one_line(backend, model_dir: Path) -> None:
    from pai_jupyter.errors import PaiError

    broken = model_dir / "broken" / "model.onnx"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(PaiError) as info:
        deploy(backend, broken, name="broken")
    assert "cannot load the model" in info.value.message and "\n" not in info.value.message
    assert [s.name for s in backend.serving.list()] == []


def test_every_services_route_needs_the_control_plane_token(backend, onnx_model: Path) -> None:
    deploy(backend, onnx_model)
    base = backend.client.base_url + "/api/v1/services"
    routes = [
        ("POST", base),
        ("GET", base),
        ("GET", f"{base}/svc"),
        ("DELETE", f"{base}/svc"),
        ("GET", f"{base}/svc/token"),
        ("POST", f"{base}/svc/rollout/pause"),
        ("POST", f"{base}/svc/rollback"),
        ("PUT", f"{base}/svc/autoscaler"),
        ("GET", f"{base}/svc/metrics"),
        ("GET", f"{base}/svc/events"),
        ("GET", f"{base}/svc/live"),
    ]
    for method, url in routes:
        for headers in ({}, {"Authorization": "token wrong"}, {"Authorization": backend.serving.token("svc")}):
            resp = requests.request(method, url, json={}, headers=headers, timeout=10)
            assert resp.status_code == 401, (method, url, headers, resp.status_code)
    assert backend.serving.get("svc").state == "Running"  # nothing above reached the service
