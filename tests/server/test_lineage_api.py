"""The lineage REST endpoints over a real Jupyter server: a real job from a real Git repo, deployed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.api import jobs as client
from pai_jupyter.api import services as service_client
from pai_jupyter.specs.job import DataInput, JobSpec
from tests.server.helpers import expect_error, get_json

pytestmark = pytest.mark.slow

TRAIN = """\
import os, pickle
from sklearn.linear_model import LinearRegression
model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
with open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.pkl"), "wb") as fh:
    pickle.dump(model, fh)
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


async def test_job_and_service_lineage(pai_home: Path, tmp_path: Path, jp_fetch: Any) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "0")
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "rows.csv").write_text("0,1\n")
    client.upload(tmp_path / "rows", "oss://pai-jupyter/lineage-data/")
    spec = JobSpec(
        name="lin",
        inputs=(DataInput.parse("train=oss://pai-jupyter/lineage-data/"),),
        env={"WANDB_API_KEY": "k-1234567890abcdef", "LR": "0.1"},
    )
    job = client.submit(TRAIN, spec, cwd=repo).wait(timeout=120, poll=0.2)
    service = service_client.deploy("lin-api", job.id, trust_pickle=True)
    try:
        data = (await get_json(jp_fetch, "jobs", job.id, "lineage"))["lineage"]
        assert data["job"]["id"] == job.id and data["code"]["commit"] == job.provenance["code_commit"]
        assert data["code"]["ref"] == f"refs/pai/jobs/{job.id}" and data["data"]["train"]["objects"] == 1
        assert data["spec"]["env"] == {"WANDB_API_KEY": "<redacted>", "LR": "0.1"}

        svc = (await get_json(jp_fetch, "services", "lin-api", "lineage"))["lineage"]
        assert svc["version"]["number"] == 1 and svc["job"]["id"] == job.id
        assert svc["code"]["commit"] == data["code"]["commit"] and svc["model"]["sha256"].startswith("sha256:")
        assert svc["deployed"]["job_id"] == job.id
        same = (await get_json(jp_fetch, "services", "lin-api", "lineage", params={"version": "1"}))["lineage"]
        assert same["model"] == svc["model"]

        await expect_error(jp_fetch, 404, "services", "lin-api", "lineage", params={"version": "9"})
        await expect_error(jp_fetch, 400, "services", "lin-api", "lineage", params={"version": "two"})
        await expect_error(jp_fetch, 404, "jobs", "job-missing", "lineage")
    finally:
        service.delete()
