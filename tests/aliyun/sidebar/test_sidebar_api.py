"""The sidebar's REST API (the Jupyter server extension) on the aliyun backend: the same
jobs and services views, fed by the fake DLC / EAS / OSS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.api.jobs import submit
from pai_jupyter.backends.registry import get_backend
from pai_jupyter.config import PaiConfig
from pai_jupyter.specs.job import JobSpec
from tests.aliyun.conftest import AliyunFakes

pytestmark = pytest.mark.slow


async def _get(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("pai", "api", *parts, **kwargs)
    return json.loads(response.body)


async def test_jobs_views_on_aliyun(jp_fetch: Any, fakes: AliyunFakes, tmp_path: Path) -> None:
    backend = get_backend("aliyun", PaiConfig())
    src = "from pai_jupyter import report\nreport(step=1, loss=0.5)\nprint('side', flush=True)\n"
    job = submit(src, JobSpec(name="sidebar-job"), cwd=tmp_path, backend=backend).wait(timeout=30, poll=0.1)
    listing = await _get(jp_fetch, "jobs")
    (item,) = [j for j in listing["jobs"] if j["id"] == job.id]
    assert item["backend"] == "aliyun" and item["state"] == "Succeeded" and item["name"] == "sidebar-job"
    detail = await _get(jp_fetch, "jobs", job.id)
    assert detail["job"]["id"] == job.id
    metrics = await _get(jp_fetch, "jobs", job.id, "metrics")
    assert [m["value"] for m in metrics["metrics"] if m["name"] == "loss"] == [0.5]
    logs = await _get(jp_fetch, "jobs", job.id, "logs")
    assert "side" in logs["text"]
    info = await _get(jp_fetch, "info")
    assert "aliyun" in json.dumps(info)


async def test_services_view_on_aliyun(jp_fetch: Any, fakes: AliyunFakes) -> None:
    from pai_jupyter.specs.service import ServiceSpec
    from tests.aliyun.conftest import BUCKET
    from tests.serving.models import onnx_linear

    onnx_linear(fakes.oss.path(BUCKET, "models/m/model.onnx"))  # the fake EAS runs it: a real model
    backend = get_backend("aliyun", PaiConfig())
    backend.serving.deploy(ServiceSpec(name="side-svc", processor="onnx"), f"oss://{BUCKET}/models/m/")
    listing = await _get(jp_fetch, "services")
    (svc,) = listing["services"]
    assert svc["name"] == "side-svc" and svc["backend"] == "aliyun" and svc["state"] == "Running"
    assert svc["endpoint"].endswith("/api/predict/side_svc")
