"""The control plane's HTTP API: authentication on every route, JSON errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import requests

from pai_jupyter.backends.local import LocalBackend, ensure_server
from pai_jupyter.config import PaiConfig
from pai_jupyter.controlplane.app import ControlPlane
from pai_jupyter.controlplane.runtime import runtime_file
from pai_jupyter.errors import NotFoundError, ValidationError


def test_runtime_file_is_private_and_points_at_a_live_server(pai_config: PaiConfig) -> None:
    info = ensure_server(pai_config)
    path = runtime_file(pai_config.home_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert info["url"].startswith("http://127.0.0.1:")
    health = requests.get(f"{info['url']}/api/v1/health", headers={"Authorization": f"token {info['token']}"})
    assert health.json()["ok"] is True
    # A second client finds the same server instead of starting another.
    assert ensure_server(PaiConfig())["pid"] == info["pid"]


def test_every_route_refuses_missing_and_wrong_tokens(pai_config: PaiConfig, tmp_path: Path) -> None:
    info = ensure_server(pai_config)
    plane = ControlPlane(tmp_path / "probe", "t")  # only to enumerate the route table
    routes = [
        (r.method, r.resource.canonical)  # type: ignore[union-attr]
        for r in plane.app.router.routes()
        if r.method != "HEAD" and not r.resource.canonical.startswith("/api/predict/")  # type: ignore[union-attr]
    ]
    plane.db.close()
    assert len(routes) >= 10
    for method, path in routes:
        url = info["url"] + path.replace("{id}", "job-x").replace("{name}", "svc-x")
        for headers in ({}, {"Authorization": "token wrong"}, {"Authorization": "Basic abc"}):
            resp = requests.request(method, url, headers=headers, timeout=5)
            assert resp.status_code == 401, (method, path, headers, resp.status_code)
            assert "token" in resp.json()["error"]


def test_errors_are_json_with_hints(pai_config: PaiConfig) -> None:
    backend = LocalBackend(pai_config)
    with pytest.raises(NotFoundError, match="job 'job-nope' does not exist"):
        backend.training.get("job-nope")
    info = ensure_server(pai_config)
    resp = requests.post(
        f"{info['url']}/api/v1/jobs", data="not json", headers={"Authorization": f"token {info['token']}"}
    )
    assert resp.status_code == 400 and resp.json()["error"] == "the request body is not JSON"
    resp = requests.post(
        f"{info['url']}/api/v1/jobs",
        json={"spec": {"name": "x", "workers": 0}},
        headers={"Authorization": f"token {info['token']}"},
    )
    assert resp.status_code == 400 and "--workers must be at least 1" in resp.json()["error"]
    with pytest.raises(ValidationError, match="workers 0-0, not 3"):
        from pai_jupyter.specs.job import JobSpec
        from tests.controlplane.jobs_helpers import submit_script, wait_for

        record = submit_script(backend, "print(1)", JobSpec(name="one"))
        wait_for(backend, record.id, {"Succeeded"})
        backend.training.logs(record.id, worker=3)
