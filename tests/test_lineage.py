"""Lineage, reproduce and drift at the level users meet them: CLI subprocesses, magics in a real
IPython shell, real Git repositories, real local jobs and model servers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api import jobs as client
from pai_jupyter.api.services import Service
from pai_jupyter.errors import NotFoundError
from tests.conftest import run_cli
from tests.serving import models

DATA_URI = "oss://pai-jupyter/data/train/"

# Deterministic: the model is a function of the data only; config.txt does not depend on it.
TRAIN_SCRIPT = """\
import hashlib, os, pathlib
data = pathlib.Path(os.environ["PAI_INPUT_TRAIN"])
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
rows = [p.read_bytes() for p in sorted(data.iterdir())]
(out / "model.txt").write_text(hashlib.sha256(b"".join(rows)).hexdigest() + "\\n")
(out / "config.txt").write_text("layers=2\\n")
print("trained on", len(rows), "files")
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "README.md").write_text("digits\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def upload_data(tmp_path: Path, rows: dict[str, bytes], uri: str = DATA_URI) -> None:
    local = tmp_path / "data-upload"
    local.mkdir(exist_ok=True)
    for name, data in rows.items():
        (local / name).write_bytes(data)
    client.upload(local, uri)


def test_reproduce_is_identical_then_names_the_changed_data_and_artefacts(pai_home: Path, tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    (repo / "train.py").write_text(TRAIN_SCRIPT)  # untracked: only the job's ref holds it
    upload_data(tmp_path, {"a.csv": b"x,y\n1,2\n", "b.csv": b"x,y\n3,4\n"})
    proc = run_cli(
        "train", str(repo / "train.py"), "--name", "det", "--data", f"train={DATA_URI}", "--wait", "--json"
    )
    original = json.loads(proc.stdout)
    status = git(repo, "status", "--porcelain")
    commit = client.get_job(original["id"]).provenance["code_commit"]

    proc = run_cli("reproduce", original["id"], "--wait")
    assert "identical: 2 artefact file(s)" in proc.stdout
    assert "code: same commit" in proc.stdout and "data: same fingerprints" in proc.stdout
    rerun = re.search(r"Submitted (\S+) on local: a rerun of", proc.stdout).group(1)  # type: ignore[union-attr]
    assert f"from commit {commit}" in proc.stdout
    assert git(repo, "rev-parse", f"refs/pai/jobs/{rerun}").strip() == commit  # the same commit, not a new one
    assert git(repo, "status", "--porcelain") == status

    # One byte of the input changes (same size): the fingerprint and model.txt differ, config.txt does not.
    stored = pai_home / "storage" / "pai-jupyter" / "data" / "train" / "b.csv"
    stored.write_bytes(b"x,y\n3,5\n")
    proc = run_cli("reproduce", original["id"], "--wait", "--json", check=False)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["identical"] is False
    assert result["artefacts"]["differ"] == ["model.txt"] and result["artefacts"]["same"] == ["config.txt"]
    assert len(result["data"]) == 1 and result["data"][0].startswith("train: oss://pai-jupyter/data/train/")
    assert "listing digest" in result["data"][0] and result["code"] is None

    proc = run_cli("reproduce", original["id"], "--compare", result["rerun"], check=False)
    assert proc.returncode == 1 and "differs: model.txt" in proc.stdout and "data: train:" in proc.stdout


def test_reproduce_of_an_unknown_job_is_one_line(pai_home: Path) -> None:
    proc = run_cli("reproduce", "job-nope", check=False)
    assert proc.returncode == 2 and "job-nope" in proc.stderr and "Traceback" not in proc.stderr


LINEAR_CELL = """\
import os, pickle, numpy as np
from sklearn.linear_model import LinearRegression
xy = np.loadtxt(os.path.join(os.environ["PAI_INPUT_TRAIN"], "xy.csv"), delimiter=",")
model = LinearRegression().fit(xy[:, :-1], xy[:, -1])
with open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.pkl"), "wb") as fh:
    pickle.dump(model, fh)
"""


@pytest.mark.slow
def test_lineage_of_a_service_version_reaches_its_commit_and_data(
    ip: InteractiveShell, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_repo(workdir)
    (workdir / "features.py").write_text("SCALE = 1.0\n")  # untracked: recorded on the job's ref
    options = f"--data train={DATA_URI} --wait --no-widget"
    try:
        upload_data(tmp_path, {"xy.csv": b"0,1,1\n1,0,2\n1,1,3\n2,1,4\n"})
        ip.run_cell_magic("pai_train", f"--name lin {options} --as job1", LINEAR_CELL)
        upload_data(tmp_path, {"xy.csv": b"0,1,2\n1,0,3\n1,1,5\n2,1,7\n"})
        ip.run_cell_magic("pai_train", f"--name lin {options} --as job2", LINEAR_CELL)
        job1, job2 = ip.user_ns["job1"], ip.user_ns["job2"]
        ip.run_line_magic("pai_deploy", f"lin-svc --model {job1.id} --trust-pickle --no-widget")
        ip.run_line_magic(
            "pai_deploy",
            f"lin-svc --model {job2.id} --plan 50,100 --bake 0 --min-requests 1000 --trust-pickle --no-widget",
        )
        capsys.readouterr()

        proc = run_cli("lineage", "lin-svc@v2", "--json")
        data = json.loads(proc.stdout)
        prov2 = job2.provenance
        assert data["version"]["number"] == 2 and data["job"]["id"] == job2.id
        assert data["code"]["commit"] == prov2["code_commit"] and data["code"]["ref"] == f"refs/pai/jobs/{job2.id}"
        assert data["code"]["ref_present"] is True
        assert data["data"]["train"]["digest"] == prov2["data_fingerprints"]["train"]["digest"]
        assert data["data"]["train"]["objects"] == 1 and data["data"]["train"]["complete"]
        assert data["model"]["uri"] == job2.outputs["model"] and list(data["model"]["files"]) == ["model.pkl"]
        assert data["model"]["sha256"].startswith("sha256:")
        assert data["environment"]["frameworks"]["scikit-learn"]
        assert data["spec"]["inputs"][0]["uri"] == DATA_URI
        assert data["rollout"]["from_version"] == 1 and data["rollout"]["to_version"] == 2
        assert data["deployed"]["user"] and data["deployed"]["job_id"] == job2.id

        v1 = ip.run_line_magic("pai_lineage", "lin-svc@v1 --json")
        assert v1["job"]["id"] == job1.id and v1["data"]["train"]["digest"] != data["data"]["train"]["digest"]
        assert v1["rollout"] is None
        ip.run_line_magic("pai_lineage", "lin-svc@v1")
        assert "rollout  created with the service; last: v1 is serving 100 %" in capsys.readouterr().out

        ip.run_line_magic("pai_lineage", "lin-svc@v2")
        out = capsys.readouterr().out
        assert "lin-svc@v2" in out and prov2["code_commit"] in out and f"refs/pai/jobs/{job2.id}" in out
        assert "rollout  v1 -> v2 running (50% -> 100%)" in out and "train: oss://pai-jupyter/data/train/" in out

        ip.run_line_magic("pai_lineage", job1.id)
        out = capsys.readouterr().out
        assert job1.provenance["code_commit"] in out and "lin-svc" not in out

        with pytest.raises(UsageError, match="neither a job nor a service"):
            ip.run_line_magic("pai_lineage", "nothing-here")
    finally:
        try:
            Service("lin-svc").delete()
        except NotFoundError:
            pass


@pytest.mark.slow
def test_reproduce_magic_reports_identical(
    ip: InteractiveShell, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_repo(workdir)
    upload_data(tmp_path, {"a.csv": b"1\n"})
    ip.run_cell_magic("pai_train", f"--name det --data train={DATA_URI} --wait --no-widget", TRAIN_SCRIPT)
    job = ip.user_ns["_pai_job"]
    commit = job.provenance["code_commit"]
    assert f"Code: {commit[:12]} on refs/pai/jobs/{job.id}" in capsys.readouterr().out
    ip.run_line_magic("pai_job", job.id)
    assert f"code       {commit} (refs/pai/jobs/{job.id})" in capsys.readouterr().out
    ip.run_line_magic("pai_reproduce", f"{job.id} --wait")
    out = capsys.readouterr().out
    assert "identical: 2 artefact file(s)" in out
    assert ip.user_ns["_pai_reproduction"].identical


def _sklearn_model_saved_by(version: str, path: Path) -> Path:
    """A real scikit-learn pickle whose recorded ``_sklearn_version`` is ``version`` (same length as ours)."""
    import sklearn

    models.sklearn_digits(path)
    data = path.read_bytes()
    assert len(version) == len(sklearn.__version__) and data.count(sklearn.__version__.encode()) == 1
    path.write_bytes(data.replace(sklearn.__version__.encode(), version.encode()))
    assert b"_sklearn_version" in path.read_bytes() and version.encode() in path.read_bytes()
    return path


def _other_minor(version: str) -> str:
    major, minor, *rest = version.split(".")
    other = int(minor) - 1 if int(minor) > 0 and len(str(int(minor) - 1)) == len(minor) else int(minor) + 1
    return ".".join([major, str(other), *rest])


@pytest.mark.slow
def test_deploying_a_model_saved_by_another_sklearn_minor_warns_with_both_versions(
    ip: InteractiveShell, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sklearn

    saved = _other_minor(sklearn.__version__)
    _sklearn_model_saved_by(saved, workdir / "model.pkl")
    try:
        with pytest.raises(UsageError) as refused:
            ip.run_line_magic("pai_deploy", "strict-svc --model model.pkl --strict-env --trust-pickle --no-widget")
        assert f"scikit-learn {saved} (saved in the model)" in str(refused.value)
        assert f"serving runtime has {sklearn.__version__}" in str(refused.value)
        with pytest.raises(NotFoundError):
            Service("strict-svc").refresh()  # refused: nothing was deployed

        ip.run_line_magic("pai_deploy", "drift-svc --model model.pkl --trust-pickle --no-widget")
        err = capsys.readouterr().err
        assert (
            f"warning: environment drift: scikit-learn {saved} (saved in the model) but the serving runtime "
            f"has {sklearn.__version__}" in err
        )
        assert ip.user_ns["_pai_service"].record.versions[0].state == "Running"  # warned, still deployed

        proc = run_cli(
            "deploy",
            "cli-svc",
            "--model",
            str(workdir / "model.pkl"),
            "--strict-env",
            "--trust-pickle",
            check=False,
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"scikit-learn {saved} (saved in the model)" in proc.stderr and sklearn.__version__ in proc.stderr
    finally:
        try:
            Service("drift-svc").delete()
        except NotFoundError:
            pass


def test_reproduce_without_the_repository_reruns_the_uploaded_snapshot(pai_home: Path, tmp_path: Path) -> None:
    from pai_jupyter.api.reproduce import compare_jobs, reproduce
    from pai_jupyter.specs.job import DataInput, JobSpec

    repo = init_repo(tmp_path / "repo")
    (repo / "train.py").write_text(TRAIN_SCRIPT)
    upload_data(tmp_path, {"a.csv": b"1\n"})
    spec = JobSpec(name="moved", inputs=(DataInput.parse(f"train={DATA_URI}"),))
    job = client.submit_file(repo / "train.py", spec).wait(timeout=120, poll=0.2)
    commit = job.provenance["code_commit"]
    repo.rename(tmp_path / "elsewhere")  # the repository is gone from where the job was made

    rerun, source = reproduce(job.id)
    assert source.startswith("the job's uploaded snapshot oss://")
    assert (
        f"the repository holding {commit} is not on this machine; the snapshot's tree is that commit's tree"
        in source
    )
    rerun.wait(timeout=120, poll=0.2)
    result = compare_jobs(job.id, rerun.id)
    assert result.identical and result.code is None, result.text()
    assert rerun.provenance["reproduces"]["job"] == job.id


def test_model_hash_reads_at_most_its_budget(tmp_path: Path) -> None:
    from pai_jupyter.api.lineage import artefact_manifest
    from pai_jupyter.storage.local import LocalStorage
    from pai_jupyter.storage.uri import OssUri

    storage = LocalStorage(tmp_path / "storage")
    storage.write_bytes(OssUri("bkt", "model/a.bin"), b"a" * 100)
    storage.write_bytes(OssUri("bkt", "model/b.bin"), b"b" * 100)
    storage.write_bytes(OssUri("bkt", "model/provenance.json"), b"{}")
    full = artefact_manifest(storage, "oss://bkt/model/")
    assert full["complete"] and sorted(full["files"]) == ["a.bin", "b.bin"]
    part = artefact_manifest(storage, "oss://bkt/model/", max_bytes=150)
    assert not part["complete"] and part["files"]["a.bin"] == full["files"]["a.bin"]
    assert part["files"]["b.bin"]["sha256"] is None and part["files"]["b.bin"]["bytes"] == 100
    assert artefact_manifest(storage, "oss://bkt/model/", max_bytes=150)["sha256"] == part["sha256"]
    storage.write_bytes(OssUri("bkt", "model/b.bin"), b"c" * 100)  # rewritten: new mtime
    assert artefact_manifest(storage, "oss://bkt/model/", max_bytes=150)["sha256"] != part["sha256"]


def test_reproduce_wait_timeout_is_one_line_with_the_compare_command(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell_magic("pai_train", "--name slow --no-widget", "import time\ntime.sleep(60)\n")
    job = ip.user_ns["_pai_job"]
    with pytest.raises(UsageError) as err:
        ip.run_line_magic("pai_reproduce", f"{job.id} --wait --timeout 1s")
    rerun = ip.user_ns["_pai_reproduction"]
    assert f"the rerun {rerun.id} is still" in str(err.value) and "after 1s" in str(err.value)
    assert f"jupyter pai reproduce {job.id} --compare {rerun.id}" in str(err.value)
    job.stop()
    rerun.stop()
