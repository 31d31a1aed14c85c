"""The code a job runs: the repository as it is in the working tree, plus the cell.

In a Git repository the snapshot holds every file Git would commit (tracked
files and untracked, not ignored ones, with their working-tree content: the
commit plus the uncommitted diff) and the entry script in the folder matching
the kernel's working directory. Outside a repository it holds the working
directory's files, skipping caches, virtual environments and large files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ValidationError
from .git import open_repo, tracked_and_untracked

DEFAULT_MAX_BYTES = 200 * 2**20
# Outside Git: folders never copied, and the largest single file copied.
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "node_modules", ".mypy_cache", ".cache"}
MAX_LOOSE_FILE = 10 * 2**20


@dataclass
class SnapshotInfo:
    root: Path
    entry: Path
    workdir: str  # the entry's folder relative to root ("" = root)
    files: int
    bytes: int
    entry_sha256: str
    skipped: list[str] = field(default_factory=list)


def _too_big(total: int, max_bytes: int) -> ValidationError:
    return ValidationError(
        f"the code snapshot would be over {max_bytes // 2**20} MB ({total // 2**20} MB so far)",
        "keep data out of the code folder (upload it and pass --data oss://...), or add it to .gitignore",
    )


def make_snapshot(
    cwd: Path | str, entry_source: str, entry_name: str, dest: Path | str, max_bytes: int = DEFAULT_MAX_BYTES
) -> SnapshotInfo:
    cwd, dest = Path(cwd).resolve(), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    repo = open_repo(cwd)
    total, files, skipped = 0, 0, []

    def copy(src: Path, rel: Path, size: int) -> None:
        nonlocal total, files
        total += size
        if total > max_bytes:
            raise _too_big(total, max_bytes)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        files += 1

    if repo is not None:
        root = Path(repo.working_tree_dir or cwd).resolve()
        for rel in tracked_and_untracked(repo):
            src = root / rel
            if not src.is_file() or (src.is_symlink() and not src.resolve().is_relative_to(root)):
                continue  # deleted in the working tree, a submodule folder, or a link out of the repo
            copy(src, Path(rel), src.stat().st_size)
    else:
        root = cwd
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(names):
                src = Path(folder) / name
                if not src.is_file():
                    continue
                size = src.stat().st_size
                rel = src.relative_to(root)
                if size > MAX_LOOSE_FILE:
                    skipped.append(f"{rel} ({size // 2**20} MB)")
                    continue
                copy(src, rel, size)
    workdir = cwd.relative_to(root).as_posix() if cwd != root else ""
    entry = dest / workdir / entry_name
    entry.parent.mkdir(parents=True, exist_ok=True)
    data = entry_source.encode()
    entry.write_bytes(data)  # the cell wins over a file of the same name
    files += 1
    total += len(data)
    return SnapshotInfo(
        root=dest,
        entry=entry,
        workdir=workdir,
        files=files,
        bytes=total,
        entry_sha256=hashlib.sha256(data).hexdigest(),
        skipped=skipped,
    )
