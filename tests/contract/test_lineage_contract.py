"""Job refs, fingerprints, lineage and reproduce on both backends (local control plane, fake DLC/OSS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pai_jupyter.api import jobs as client
from pai_jupyter.api import services as service_client
from pai_jupyter.api.lineage import job_lineage, lineage
from pai_jupyter.api.reproduce import compare_jobs, reproduce
from pai_jupyter.backends.base import Backend
from pai_jupyter.specs.job import DataInput, JobSpec
from pai_jupyter.storage.uri import OssUri

pytestmark = pytest.mark.slow

SCRIPT = """\
import os, pathlib, pickle
from sklearn.linear_model import LinearRegression
data = pathlib.Path(os.environ["PAI_INPUT_TRAIN"])
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
rows = [[float(v) for v in line.split(",")] for p in sorted(data.iterdir()) for line in p.read_text().split()]
model = LinearRegression().fit([r[:-1] for r in rows], [r[-1] for r in rows])
(out / "model.pkl").write_bytes(pickle.dumps(model))
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_lineage_and_reproduce(backend: Backend, bucket: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "0")
    (repo / "helper.py").write_text("X = 1\n")  # untracked
    data = OssUri(bucket, "lineage/train/")
    backend.storage.write_bytes(data.join("a.csv"), b"1,2\n2,4\n3,6\n")
    spec = JobSpec(name="lin-contract", inputs=(DataInput.parse(f"train={data}"),))

    job = client.submit(SCRIPT, spec, cwd=repo, backend=backend).wait(timeout=120, poll=0.3)

    prov = job.provenance
    assert git(repo, "rev-parse", f"refs/pai/jobs/{job.id}").strip() == prov["code_commit"]
    fp = prov["data_fingerprints"]["train"]
    assert (fp["objects"], fp["bytes"], fp["complete"]) == (1, 12, True)
    assert fp["keyed_by"] == ("etag" if backend.id == "aliyun" else "mtime")
    walk = job_lineage(job.id, backend)
    assert walk["code"]["commit"] == prov["code_commit"] and walk["data"]["train"] == fp
    assert walk["job"]["backend"] == backend.id

    rerun, source = reproduce(job.id, backend=backend)
    assert source.startswith(f"commit {prov['code_commit']}")
    rerun.wait(timeout=120, poll=0.3)
    result = compare_jobs(job.id, rerun.id, backend=backend)
    assert result.identical and result.same_files == ["model.pkl"] and not result.data, result.text()

    # On EAS the default image's Python 3.9 cannot install this scikit-learn: name a py311 image.
    image = "registry.cn-hangzhou.aliyuncs.com/team/serving:py311-ubuntu2204" if backend.id == "aliyun" else None
    service = service_client.deploy("lin-contract", job.id, backend=backend, trust_pickle=True, image=image)
    try:
        walked = lineage("lin-contract@v1", backend)
        assert walked["service"]["backend"] == backend.id and walked["job"]["id"] == job.id
        assert (
            walked["code"]["commit"] == prov["code_commit"] and walked["data"]["train"]["digest"] == fp["digest"]
        )
        assert list(walked["model"]["files"]) == ["model.pkl"] and walked["deployed"]["job_id"] == job.id
    finally:
        service.delete()
