"""refs/pai/jobs/<id>: a real commit per job whose tree is exactly what ran (real repos, real local jobs)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from pai_jupyter.api import jobs as client
from pai_jupyter.provenance.refs import REF_PREFIX, list_refs, prune_refs
from pai_jupyter.specs.job import JobSpec
from tests.conftest import run_cli


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "train").mkdir()
    (root / "train" / "model.py").write_text("LAYERS = 2\n")
    (root / "train" / "gone.py").write_text("OLD = 1\n")
    (root / "README.md").write_text("hello\n")
    (root / ".gitignore").write_text("data/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def user_state(repo: Path) -> dict[str, object]:
    """Everything of the user's that must not change: index, HEAD, branch, stash, working tree."""
    gitdir = repo / ".git"
    return {
        "index": (gitdir / "index").read_bytes(),
        "HEAD": (gitdir / "HEAD").read_bytes(),
        "branch": git(repo, "rev-parse", "refs/heads/main"),
        "branches": git(repo, "for-each-ref", "refs/heads", "refs/tags", "refs/stash"),
        "status": git(repo, "status", "--porcelain=v2", "--untracked-files=all"),
        "tree": files_of(repo),
    }


def test_dirty_job_gets_a_commit_whose_tree_is_exactly_what_ran(pai_home: Path, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "train" / "model.py").write_text("LAYERS = 3\n")  # modified, unstaged
    (repo / "train" / "gone.py").unlink()  # deleted in the working tree
    (repo / "train" / "new_loss.py").write_text("def loss(x):\n    return x\n")  # untracked
    git(repo, "add", "README.md")  # something staged, so the user's index differs from HEAD
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(b"\0" * 100)  # ignored: not in the snapshot, not in the commit
    before = user_state(repo)

    job = client.submit("print('trained')\n", JobSpec(name="refjob"), cwd=repo / "train")
    job.wait(timeout=120, poll=0.2)

    assert user_state(repo) == before  # byte-for-byte: index, HEAD, branch, stash, working tree
    ref = f"{REF_PREFIX}{job.id}"
    commit = git(repo, "rev-parse", ref).strip()
    prov = job.provenance
    assert prov["code_commit"] == commit and prov["code_ref"] == ref
    assert git(repo, "rev-parse", f"{commit}^").strip() == git(repo, "rev-parse", "HEAD").strip()
    message = git(repo, "log", "-1", "--format=%B", ref)
    assert job.id in message and "refjob" in message and "local" in message
    diff = git(repo, "diff", "--name-status", "HEAD", ref)
    assert "M\ttrain/model.py" in diff and "D\ttrain/gone.py" in diff and "A\ttrain/new_loss.py" in diff
    assert "A\ttrain/main.py" in diff  # the cell, as the entry script

    # A clean clone at the ref holds exactly the folder the job ran.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "fetch", "-q", "origin", f"{ref}:{ref}")
    git(clone, "checkout", "-q", ref)
    ran = Path(job.record.outputs["job_dir"]) / "code"
    assert files_of(clone) == files_of(ran)
    assert files_of(ran)["train/model.py"] == b"LAYERS = 3\n"

    # The artefact's provenance.json (written at success) names the commit too.
    written = json.loads(
        Path(pai_home / "storage" / job.record.outputs["provenance"][len("oss://") :]).read_bytes()
    )
    assert written["code_commit"] == commit


def test_clean_tree_points_the_ref_at_head_and_refs_can_be_pushed_and_pruned(
    pai_home: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = make_repo(tmp_path / "repo")
    (repo / "train" / "main.py").write_text("print('clean')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "entry")
    git(repo, "remote", "add", "origin", str(remote))
    head = git(repo, "rev-parse", "HEAD").strip()

    job = client.submit_file(repo / "train" / "main.py", JobSpec(name="cleanjob"), push_ref=True)

    assert job.provenance["code_commit"] == head  # nothing uncommitted: the ref is HEAD itself
    assert job.provenance["code"]["pushed_to"] == "origin"
    assert git(remote, "rev-parse", f"{REF_PREFIX}{job.id}").strip() == head
    refs = list_refs(repo)
    assert [r.job_id for r in refs] == [job.id] and time.time() - refs[
        0
    ].created_at < 120  # reflog time, not commit
    job.wait(timeout=120, poll=0.2)

    assert prune_refs(repo, older_than=90 * 86400) == []
    proc = run_cli("jobs", "prune-refs", "--older-than", "90d", "--repo", str(repo))
    assert "No job refs older than 90d" in proc.stdout
    proc = run_cli("jobs", "prune-refs", "--older-than", "0s", "--repo", str(repo), "--dry-run")
    assert job.id in proc.stdout and git(repo, "for-each-ref", REF_PREFIX).strip()
    proc = run_cli("jobs", "prune-refs", "--older-than", "0s", "--repo", str(repo))
    assert "Deleted 1 job ref" in proc.stdout and git(repo, "for-each-ref", REF_PREFIX).strip() == ""
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_prune_refs_outside_a_repository_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_cli("jobs", "prune-refs", "--older-than", "90d", "--repo", str(tmp_path), check=False)
    assert proc.returncode == 2 and "not in a Git repository" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("jobs", "prune-refs", "--older-than", "soon", "--repo", str(tmp_path), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("bad", ["../x", "a b", "x.lock"])
def test_job_ids_that_cannot_name_a_ref_are_refused(bad: str) -> None:
    from pai_jupyter.errors import ValidationError
    from pai_jupyter.provenance.refs import job_ref

    with pytest.raises(ValidationError):
        job_ref(bad)


def test_job_refs_can_be_turned_off(pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_JUPYTER_JOB_REFS", "0")
    repo = make_repo(tmp_path / "repo")
    job = client.submit("print(1)\n", JobSpec(name="norefs"), cwd=repo)
    assert git(repo, "for-each-ref", REF_PREFIX) == "" and job.code is None
    assert "code_commit" not in job.provenance and job.provenance["git"]["is_repo"]
