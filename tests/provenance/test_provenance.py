"""Provenance capture: environment, Git (real repos in temp folders), redaction, snapshots."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pai_jupyter.errors import ValidationError
from pai_jupyter.provenance import capture, capture_environment, capture_git, make_snapshot, redact
from pai_jupyter.provenance.environment import framework_versions, installed_distributions
from pai_jupyter.provenance.redact import REDACTED, strip_url_credentials


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "train").mkdir()
    (root / "train" / "model.py").write_text("LAYERS = 2\n")
    (root / "README.md").write_text("hello\n")
    (root / ".gitignore").write_text("data/\n*.ckpt\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", "https://alice:ghp_s3cr3tT0kenValue@github.com/acme/digits.git")
    return root


def test_environment_lists_every_distribution_like_importlib_metadata() -> None:
    from importlib import metadata

    expected: dict[str, str] = {}
    for dist in metadata.distributions():  # in sys.path order: the first of a name is the importable one
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()  # PEP 503 names
        expected.setdefault(name, dist.version)
    found = installed_distributions()
    assert found == dict(sorted(expected.items()))  # every name and every version, not a sample
    assert len(found) > 50
    env = capture_environment()
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["packages"] == found
    assert "torch" in env["frameworks"]  # the test extras pin torch


def test_framework_versions_read_cuda_build_tags() -> None:
    frameworks = framework_versions({"torch": "2.3.1+cu121", "xgboost": "2.0.3", "tensorflow-cpu": "2.15.0"})
    assert frameworks["torch"] == {"version": "2.3.1+cu121", "build": "cu121", "cuda": "12.1"}
    assert frameworks["xgboost"]["cuda"] is None
    assert frameworks["tensorflow"]["version"] == "2.15.0"
    assert framework_versions({"torch": "2.13.0+cpu"})["torch"]["cuda"] is None


def test_git_capture_of_a_dirty_tree_with_untracked_files_rebuilds_the_tree(repo: Path, tmp_path: Path) -> None:
    (repo / "train" / "model.py").write_text("LAYERS = 3\n")  # unstaged change
    (repo / "train" / "new_loss.py").write_text("def loss(x):\n    return x\n")  # untracked
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(b"\0" * 1000)  # ignored
    (repo / "weights.npy").write_bytes(bytes(range(256)))  # untracked binary
    staged_before = git(repo, "ls-files", "--stage")

    info = capture_git(repo / "train")

    assert info["is_repo"] and info["dirty"] and info["branch"] == "main"
    assert info["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert info["remote"] == "https://github.com/acme/digits.git"  # credentials stripped
    assert set(info["untracked"]) == {"train/new_loss.py", "weights.npy"}
    assert "LAYERS = 3" in info["diff"] and "new_loss.py" in info["diff"] and "big.bin" not in info["diff"]
    assert git(repo, "ls-files", "--stage") == staged_before  # nothing was staged in the user's index
    # The diff applied to a clean clone at the commit reproduces the working tree exactly.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", info["commit"])
    subprocess.run(["git", "apply", "--binary", "-"], cwd=clone, input=info["diff"].encode(), check=True)
    for rel in ("train/model.py", "train/new_loss.py", "weights.npy"):
        assert (clone / rel).read_bytes() == (repo / rel).read_bytes()


def test_git_diff_over_the_cap_is_truncated_with_a_warning(repo: Path) -> None:
    (repo / "notes.txt").write_text("x" * 50_000)
    info = capture_git(repo, max_diff_bytes=10_000)
    assert info["diff_truncated"] and info["diff_bytes"] > 50_000 and len(info["diff"]) <= 10_000
    assert "over the 9.8 KB cap" in info["warnings"][0] and "commit your changes" in info["warnings"][0]


def test_clean_repo_and_not_a_repo(repo: Path, tmp_path: Path) -> None:
    clean = capture_git(repo)
    assert clean["dirty"] is False and clean["diff"] == ""
    outside = tmp_path / "plain"
    outside.mkdir()
    assert capture_git(outside) == {"is_repo": False, "reason": "not a Git repo", "warnings": []}


def test_repo_without_commits_records_everything_as_a_diff(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("print('a')\n")
    info = capture_git(tmp_path)
    assert info["commit"] is None and "a.py" in info["diff"] and "no commits" in info["warnings"][0]


def test_secrets_are_redacted_by_name_and_by_value(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-8f2b9c4e1a7d"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("PAI_JUPYTER_DB_PASSWORD", "hunter2hunter2")
    monkeypatch.setenv("PAI_JUPYTER_REGION", "cn-hangzhou")
    (repo / "config.py").write_text(f"API_KEY = '{secret}'\nAK = 'LTAI5tAbCdEfGhIjKlMnOpQr'\n")
    prov = capture(
        repo,
        entry_source="print('hi')",
        data_uris=["oss://demo/data"],
        spec={"name": "j", "env": {"HF_TOKEN": "hf_abcdefghijklmnop", "EPOCHS": "3"}},
    )
    text = json.dumps(prov)
    assert secret not in text and "hunter2hunter2" not in text and "LTAI5tAbCdEfGhIjKlMnOpQr" not in text
    assert "ghp_s3cr3tT0kenValue" not in text and "hf_abcdefghijklmnop" not in text
    assert prov["environment"]["env"]["PAI_JUPYTER_DB_PASSWORD"] == REDACTED
    assert prov["environment"]["env"]["PAI_JUPYTER_REGION"] == "cn-hangzhou"
    assert prov["spec"]["env"] == {"HF_TOKEN": REDACTED, "EPOCHS": "3"}
    assert REDACTED in prov["git"]["diff"] and "config.py" in prov["git"]["diff"]
    # Package names that look like secrets ("keyring", "tokenizers") keep their versions.
    assert prov["environment"]["packages"]["pytest"] != REDACTED
    assert prov["data"] == ["oss://demo/data"] and len(prov["entry"]["sha256"]) == 64


def test_redact_helpers() -> None:
    assert strip_url_credentials("https://u:p@host/x.git") == "https://host/x.git"
    assert strip_url_credentials("git@github.com:acme/x.git") == "git@github.com:acme/x.git"
    out = redact({"password": "pw", "nested": [{"note": "Bearer abcdefghijklmnopqrstuvwx"}], "n": 3}, values=[])
    assert out == {"password": REDACTED, "nested": [{"note": REDACTED}], "n": 3}


def test_snapshot_in_a_repo_holds_the_working_tree_and_the_cell(repo: Path, tmp_path: Path) -> None:
    (repo / "train" / "model.py").write_text("LAYERS = 3\n")
    (repo / "train" / "helpers.py").write_text("X = 1\n")
    (repo / "scratch.ckpt").write_bytes(b"ignored")
    snap = make_snapshot(repo / "train", "import model\nprint(model.LAYERS)\n", "main.py", tmp_path / "snap")
    assert snap.workdir == "train" and snap.entry == tmp_path / "snap" / "train" / "main.py"
    assert (tmp_path / "snap" / "train" / "model.py").read_text() == "LAYERS = 3\n"
    assert (tmp_path / "snap" / "train" / "helpers.py").exists()
    assert not (tmp_path / "snap" / "scratch.ckpt").exists() and not (tmp_path / "snap" / ".git").exists()
    out = subprocess.run([sys.executable, "main.py"], cwd=snap.entry.parent, capture_output=True, text=True)
    assert out.stdout.strip() == "3"
    import hashlib

    assert snap.entry_sha256 == hashlib.sha256(b"import model\nprint(model.LAYERS)\n").hexdigest()


def test_snapshot_outside_git_skips_environments_and_large_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / ".venv" / "lib").mkdir(parents=True)
    (work / ".venv" / "lib" / "x.py").write_text("")
    (work / "util.py").write_text("#" * 2000)
    (work / "huge.bin").write_bytes(b"\0" * (11 * 2**20))
    snap = make_snapshot(work, "pass\n", "main.py", tmp_path / "snap")
    names = {p.relative_to(tmp_path / "snap").as_posix() for p in (tmp_path / "snap").rglob("*") if p.is_file()}
    assert names == {"util.py", "main.py"} and snap.skipped == ["huge.bin (11 MB)"]
    with pytest.raises(ValidationError, match="code snapshot would be over"):
        make_snapshot(work, "pass\n", "main.py", tmp_path / "snap2", max_bytes=1000)


def test_snapshot_in_a_repo_leaves_out_untracked_credentials_and_a_state_folder_inside_it(
    repo: Path, tmp_path: Path
) -> None:
    for rel in (".env", ".aws/credentials", "keys/id_ed25519", "state/state.sqlite", "state/jobs/x.log"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("secret\n")
    info = make_snapshot(repo, "print(1)\n", "main.py", tmp_path / "snap", private_dirs=[repo / "state"])
    files = {p.relative_to(tmp_path / "snap").as_posix() for p in (tmp_path / "snap").rglob("*") if p.is_file()}
    assert files == {".gitignore", "README.md", "train/model.py", "main.py"}
    assert sorted(info.credentials) == [".aws/credentials", ".env", "keys/id_ed25519"]
    again = make_snapshot(
        repo, "print(1)\n", "main.py", tmp_path / "snap2", include=[".aws/*"], private_dirs=[repo / "state"]
    )
    assert sorted(again.credentials) == [".env", "keys/id_ed25519"]
    assert (tmp_path / "snap2" / ".aws" / "credentials").is_file()
