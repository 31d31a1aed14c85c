"""What lineage adds to a submission, each against a same-run baseline.

* The job's commit on ``refs/pai/jobs/<id>`` (tree from the snapshot through a
  throwaway index, ``commit-tree``, ``update-ref``) for a 300-file repository
  with uncommitted and untracked changes, against ``git stash create`` in the
  same repository: Git's own way to make a commit of a dirty tree without
  touching the user's branch, which a user could run by hand.
* A data fingerprint of a 3000-object prefix in 30 folders on the local
  backend, against the bare recursive listing of the same prefix.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .bench_provenance import _median_ms


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _job_ref_rows(tmp: Path) -> list[dict[str, Any]]:
    from pai_jupyter.provenance import make_snapshot
    from pai_jupyter.provenance.refs import commit_job, snapshot_tree

    root = tmp / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    for i in range(300):
        folder = root / f"pkg{i % 10}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{i}.py").write_text(f"X = {i}\n" * 100)
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-q", "-m", "init")
    (root / "pkg0" / "m0.py").write_text("X = 'changed'\n")
    (root / "new.py").write_text("Y = 1\n")
    snap = make_snapshot(root, "print(1)", "main.py", tmp / "snapshot")
    counter = iter(range(10**6))

    def ours() -> None:
        tree = snapshot_tree(root, snap.root)
        assert tree is not None
        commit_job(tree, f"job-bench{next(counter)}", "bench", "local")

    def stash_create() -> None:
        _git(root, "-c", "user.name=b", "-c", "user.email=b@example.com", "stash", "create")

    ours_ms, stash_ms = _median_ms(ours), _median_ms(stash_create)
    return [
        {
            "name": "job commit on refs/pai/jobs (300 files, dirty + untracked)",
            "value": ours_ms,
            "unit": "ms",
            "baseline": stash_ms,
            "baseline_name": "git stash create, same repo",
            "ratio": ours_ms / stash_ms,
        }
    ]


def _fingerprint_rows(tmp: Path) -> list[dict[str, Any]]:
    from pai_jupyter.api.fingerprint import fingerprint
    from pai_jupyter.storage.local import LocalStorage
    from pai_jupyter.storage.uri import OssUri

    storage = LocalStorage(tmp / "storage")
    base = tmp / "storage" / "bench" / "data"
    for i in range(3000):
        folder = base / f"shard{i % 30}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.bin").write_bytes(b"x" * 64)
    uri = OssUri("bench", "data/")
    ours_ms = _median_ms(lambda: fingerprint(storage, str(uri)))
    listing_ms = _median_ms(lambda: storage.list(uri, recursive=True))
    return [
        {
            "name": "data fingerprint, 3000 objects in 30 folders (local)",
            "value": ours_ms,
            "unit": "ms",
            "baseline": listing_ms,
            "baseline_name": "bare recursive listing",
            "ratio": ours_ms / listing_ms,
        }
    ]


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        return _job_ref_rows(Path(tmp)) + _fingerprint_rows(Path(tmp))
