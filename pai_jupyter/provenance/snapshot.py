"""The code a job runs: the repository as it is in the working tree, plus the cell.

In a Git repository the snapshot holds every file Git would commit (tracked
files and untracked, not ignored ones, with their working-tree content: the
commit plus the uncommitted diff) and the entry script in the folder matching
the kernel's working directory. Outside a repository it holds the working
directory's files, skipping caches, virtual environments and large files.

Either way, credential files (``CREDENTIAL_FILES``, ``CREDENTIAL_DIRS``: ``.env``,
``.netrc``, SSH keys, cloud CLI configs, ...) are left out unless an
``include`` pattern names them, and the state folder of the local backend and
the Jupyter runtime folder (``private_dirs``: they hold the control plane's
database and token) are never copied, even when they lie inside the code folder.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import ValidationError
from .git import open_repo, tracked_and_untracked

DEFAULT_MAX_BYTES = 200 * 2**20
# Outside Git: folders never copied, and the largest single file copied.
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "node_modules", ".mypy_cache", ".cache"}
MAX_LOOSE_FILE = 10 * 2**20
# Files that hold secrets by convention (listed in the README); matched against file names.
CREDENTIAL_FILES = (
    ".env",
    ".env.*",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".git-credentials",
    ".dockercfg",
    ".ossutilconfig",
    "credentials.json",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
)
# Folders that hold secrets by convention; nothing under them is copied.
CREDENTIAL_DIRS = (".aws", ".ssh", ".alibabacloud", ".aliyun", ".docker", ".kube", ".gnupg")


@dataclass
class SnapshotInfo:
    root: Path
    entry: Path
    workdir: str  # the entry's folder relative to root ("" = root)
    files: int
    bytes: int
    entry_sha256: str
    skipped: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)  # credential files left out


class _Filter:
    """Which relative paths a snapshot leaves out: credential files (unless included) and private folders."""

    def __init__(self, root: Path, include: Sequence[str], private_dirs: Iterable[Path]) -> None:
        self.root = root
        self.include = [p.strip().rstrip("/") for p in include if p.strip()]
        self.private = [Path(d).expanduser().resolve() for d in private_dirs]

    def included(self, rel: PurePosixPath) -> bool:
        text = rel.as_posix()
        return any(
            fnmatch.fnmatch(text, pat) or fnmatch.fnmatch(rel.name, pat) or text.startswith(pat + "/")
            for pat in self.include
        )

    def is_credential(self, rel: PurePosixPath) -> bool:
        if any(part in CREDENTIAL_DIRS for part in rel.parts[:-1]):
            return not self.included(rel)
        return any(fnmatch.fnmatch(rel.name, pat) for pat in CREDENTIAL_FILES) and not self.included(rel)

    def is_private(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == d or resolved.is_relative_to(d) for d in self.private)

    def wanted_dir(self, rel: PurePosixPath) -> bool:
        """Walk into a hidden or credential folder only when an include pattern reaches into it."""
        prefix = rel.as_posix() + "/"
        return any(pat.startswith(prefix) or fnmatch.fnmatch(rel.as_posix(), pat) for pat in self.include)


def _too_big(total: int, max_bytes: int) -> ValidationError:
    return ValidationError(
        f"the code snapshot would be over {max_bytes // 2**20} MB ({total // 2**20} MB so far)",
        "keep data out of the code folder (upload it and pass --data oss://...), or add it to .gitignore",
    )


class _Copier:
    """Copies files into ``dest`` and refuses a snapshot past ``max_bytes`` in all."""

    def __init__(self, dest: Path, max_bytes: int) -> None:
        self.dest, self.max_bytes = dest, max_bytes
        self.total = self.files = 0

    def __call__(self, src: Path, rel: Path, size: int) -> None:
        self.total += size
        if self.total > self.max_bytes:
            raise _too_big(self.total, self.max_bytes)
        target = self.dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        self.files += 1


def _walk_folder(
    root: Path, keep: _Filter, copy: Callable[[Path, Path, int], None], skipped: list[str], credentials: list[str]
) -> None:
    """Copy a folder that is no Git repository (or is taken as a folder): caches, hidden and
    credential folders, credential files and loose files over ``MAX_LOOSE_FILE`` left out."""
    for folder, dirs, names in os.walk(root):
        here = PurePosixPath(Path(folder).relative_to(root).as_posix())
        dirs[:] = sorted(
            d
            for d in dirs
            if not keep.is_private(Path(folder) / d)
            and d not in SKIP_DIRS
            and (not (d.startswith(".") or d in CREDENTIAL_DIRS) or keep.wanted_dir(here / d))
        )
        for name in sorted(names):
            src = Path(folder) / name
            if not src.is_file() or keep.is_private(src):
                continue
            rel = src.relative_to(root)
            if keep.is_credential(PurePosixPath(rel.as_posix())):
                credentials.append(rel.as_posix())
                continue
            size = src.stat().st_size
            if size > MAX_LOOSE_FILE:
                skipped.append(f"{rel} ({size // 2**20} MB)")
                continue
            copy(src, rel, size)


def snapshot_folder(folder: Path | str, dest: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> SnapshotInfo:
    """Copy one folder as it is (``--code DIR`` of a custom serving container), with the same
    rules as a job's snapshot; no entry script is written."""
    folder, dest = Path(folder).resolve(), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    credentials: list[str] = []
    copy = _Copier(dest, max_bytes)
    _walk_folder(folder, _Filter(folder, (), ()), copy, skipped, credentials)
    return SnapshotInfo(
        root=dest,
        entry=dest,
        workdir="",
        files=copy.files,
        bytes=copy.total,
        entry_sha256="",
        skipped=skipped,
        credentials=credentials,
    )


def make_snapshot(
    cwd: Path | str,
    entry_source: str,
    entry_name: str,
    dest: Path | str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    include: Sequence[str] = (),
    private_dirs: Iterable[Path] = (),
) -> SnapshotInfo:
    """Copy the code into ``dest``; ``include``: glob patterns of credential files to copy anyway."""
    cwd, dest = Path(cwd).resolve(), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    repo = open_repo(cwd)
    skipped: list[str] = []
    credentials: list[str] = []
    copy = _Copier(dest, max_bytes)

    if repo is not None:
        root = Path(repo.working_tree_dir or cwd).resolve()
        keep = _Filter(root, include, private_dirs)
        for rel in tracked_and_untracked(repo):
            src = root / rel
            if not src.is_file() or (src.is_symlink() and not src.resolve().is_relative_to(root)):
                continue  # deleted in the working tree, a submodule folder, or a link out of the repo
            if keep.is_private(src):
                continue
            if keep.is_credential(PurePosixPath(rel)):
                credentials.append(str(rel))
                continue
            copy(src, Path(rel), src.stat().st_size)
    else:
        root = cwd
        _walk_folder(root, _Filter(root, include, private_dirs), copy, skipped, credentials)
    workdir = cwd.relative_to(root).as_posix() if cwd != root else ""
    entry = dest / workdir / entry_name
    entry.parent.mkdir(parents=True, exist_ok=True)
    data = entry_source.encode()
    entry.write_bytes(data)  # the cell wins over a file of the same name
    return SnapshotInfo(
        root=dest,
        entry=entry,
        workdir=workdir,
        files=copy.files + 1,
        bytes=copy.total + len(data),
        entry_sha256=hashlib.sha256(data).hexdigest(),
        skipped=skipped,
        credentials=credentials,
    )
