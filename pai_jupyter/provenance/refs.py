"""One real Git commit per job, on a hidden ref: ``refs/pai/jobs/<job-id>``.

The commit's tree is built from the code snapshot itself (the folder that is
uploaded and run), not from the working tree, so the ref holds exactly what
ran: the repository's tracked and untracked (not ignored) files with their
working-tree content, plus the entry script. It is built with Git plumbing and
a throwaway index (``GIT_INDEX_FILE``): ``read-tree HEAD``, ``add -A`` with the
snapshot as work tree, ``write-tree``, ``commit-tree -p HEAD``, ``update-ref``.
The user's index, HEAD, branches, stash and working tree are never written.
When the snapshot equals HEAD's tree the ref points at HEAD itself.

``git log refs/pai/jobs/<id>``, ``git diff HEAD refs/pai/jobs/<id>`` and
``git checkout refs/pai/jobs/<id>`` work as for any commit.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PaiError, ValidationError

REF_PREFIX = "refs/pai/jobs/"
# Variables that would point our plumbing at another repository, index or work tree.
_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FALLBACK_NAME, FALLBACK_EMAIL = "pai-jupyter", "pai-jupyter@localhost"


class GitFailed(PaiError):
    """A git plumbing command failed."""


@dataclass(frozen=True)
class SnapshotTree:
    """The tree object of one code snapshot, written into the repository's object store."""

    git_dir: Path
    root: Path  # the repository's work tree
    tree: str
    head: str | None  # HEAD's commit when there is one (the new commit's parent)
    head_tree: str | None = None  # that commit's tree

    @property
    def clean(self) -> bool:
        """True when what ran is exactly HEAD (nothing modified, added or removed)."""
        return self.head is not None and self.tree == self.head_tree


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV}
    env.update(extra or {})
    return env


def _git(git_dir: Path, *args: str, env: dict[str, str] | None = None, work_tree: Path | None = None) -> str:
    argv = ["git", f"--git-dir={git_dir}"]
    if work_tree is not None:
        argv.append(f"--work-tree={work_tree}")
    try:
        proc = subprocess.run([*argv, *args], capture_output=True, text=True, env=env or _env())
    except FileNotFoundError:
        raise GitFailed("git is not installed", "install Git to get a commit per job") from None
    if proc.returncode != 0:
        raise GitFailed(f"git {args[0]} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def git_dir_of(root: Path) -> Path | None:
    """The absolute ``.git`` folder of the repository containing ``root`` (None outside Git)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, env=_env()
        )
    except FileNotFoundError:
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def _locate(root: Path) -> tuple[Path, Path, str | None, str | None] | None:
    """(git dir, work tree, HEAD commit, HEAD tree) in one ``rev-parse``; None outside Git."""
    argv = ["git", "-C", str(root), "rev-parse", "--absolute-git-dir", "--show-toplevel"]
    try:
        proc = subprocess.run([*argv, "HEAD^{commit}", "HEAD^{tree}"], capture_output=True, text=True, env=_env())
    except FileNotFoundError:  # no git executable: no repository to record into
        return None
    lines = proc.stdout.split("\n")
    if proc.returncode == 0 and len(lines) >= 4:
        return Path(lines[0]), Path(lines[1]), lines[2], lines[3]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env())  # no commit yet, or not a repo
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or len(lines) < 2 or not lines[0]:
        return None
    return Path(lines[0]), Path(lines[1] or root), None, None


def snapshot_tree(root: Path | str, snapshot: Path | str) -> SnapshotTree | None:
    """Write the tree of ``snapshot`` (a copy of ``root``'s repository) into that repository.

    The snapshot holds every file of the tree that runs, so ``add -A`` into an empty throwaway
    index records exactly it (what ``read-tree HEAD`` first would give too, minus a stat pass).
    Returns None when ``root`` is not in a Git repository.
    """
    located = _locate(Path(root).resolve())
    if located is None:
        return None
    git_dir, work, head, head_tree = located
    with tempfile.TemporaryDirectory(prefix="pai-index-") as tmp:
        env = _env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
        # -f: the snapshot holds only what should be recorded, ignored names included (the entry script).
        _git(git_dir, "add", "-A", "-f", "--", ".", env=env, work_tree=Path(snapshot).resolve())
        tree = _git(git_dir, "write-tree", env=env).strip()
    return SnapshotTree(git_dir=git_dir, root=work, tree=tree, head=head, head_tree=head_tree)


def checkout_commit(repo: Path | str, commit: str, dest: Path) -> bool:
    """Write ``commit``'s files into ``dest`` (a throwaway index; the user's checkout is untouched).

    False when ``repo`` is not a repository on this machine or does not hold the commit.
    """
    git_dir = git_dir_of(Path(repo)) if repo and Path(repo).is_dir() else None
    if git_dir is None:
        return False
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pai-index-") as tmp:
        env = _env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
        try:
            _git(git_dir, "read-tree", f"{commit}^{{tree}}", env=env)
            _git(git_dir, "checkout-index", "-a", "-f", env=env, work_tree=dest.resolve())
        except GitFailed:
            return False
    return True


def tree_of(folder: Path) -> str:
    """The Git tree SHA of a folder, computed in a throwaway repository (content-addressed, so it
    equals the tree of any commit holding exactly these files)."""
    with tempfile.TemporaryDirectory(prefix="pai-tree-") as tmp:
        git_dir = Path(tmp) / "repo.git"
        try:
            subprocess.run(
                ["git", "init", "-q", "--bare", str(git_dir)], check=True, capture_output=True, env=_env()
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise GitFailed(f"could not make a scratch repository to hash the snapshot: {exc}") from None
        env = _env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
        _git(git_dir, "add", "-A", "-f", "--", ".", env=env, work_tree=folder.resolve())
        return _git(git_dir, "write-tree", env=env).strip()


def resolve_tree(git_dir: Path, commit: str) -> str | None:
    try:
        return _git(git_dir, "rev-parse", "--verify", "-q", f"{commit}^{{tree}}").strip()
    except GitFailed:
        return None


def check_job_id(job_id: str) -> str:
    if not _SAFE_ID.match(job_id) or ".." in job_id or job_id.endswith((".lock", ".")):
        raise ValidationError(f"job id {job_id!r} cannot name a Git ref", "job ids are letters, digits, . _ -")
    return job_id


def job_ref(job_id: str) -> str:
    return REF_PREFIX + check_job_id(job_id)


def _fallback_identity() -> dict[str, str]:
    """Used only when Git knows no identity (no user.name/user.email configured anywhere)."""
    return {
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME") or FALLBACK_NAME,
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL") or FALLBACK_EMAIL,
        "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME") or FALLBACK_NAME,
        "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL") or FALLBACK_EMAIL,
    }


def commit_job(tree: SnapshotTree, job_id: str, name: str, backend: str) -> dict[str, Any]:
    """Create ``refs/pai/jobs/<job_id>`` for the snapshot; returns what provenance records."""
    ref = job_ref(job_id)
    if tree.clean:
        commit = tree.head
    else:
        message = (
            f"pai-jupyter job {job_id} ({name}) on {backend}\n\n"
            "The exact code this job ran: the working tree at submission (uncommitted and\n"
            "untracked files included) plus the entry script.\n\n"
            f"Job: {job_id}\nName: {name}\nBackend: {backend}\nBase: {tree.head or '(no commit yet)'}\n"
        )
        args = ["commit-tree", tree.tree, "-m", message]
        if tree.head:
            args += ["-p", tree.head]
        try:
            commit = _git(tree.git_dir, *args).strip()  # the user's own Git identity
        except GitFailed:  # none configured: a neutral one rather than no record
            commit = _git(tree.git_dir, *args, env=_env(_fallback_identity())).strip()
    assert commit is not None
    _git(
        tree.git_dir,
        "update-ref",
        "--create-reflog",
        "-m",
        f"pai-jupyter: job {job_id} ({name}) on {backend}",
        ref,
        commit,
    )
    return {
        "commit": commit,
        "ref": ref,
        "tree": tree.tree,
        "base": tree.head,
        "clean": tree.clean,
        "repo": str(tree.root),
    }


def push_ref(git_dir: Path, ref: str, remote: str | None = None) -> str:
    """Push ``ref`` to ``remote`` (default: origin, else the first remote); returns the remote's name."""
    remotes = _git(git_dir, "remote").split()
    if not remotes:
        raise ValidationError("the repository has no remote to push the job's ref to", "add one: git remote add")
    chosen = remote or ("origin" if "origin" in remotes else remotes[0])
    if chosen not in remotes:
        raise ValidationError(f"the repository has no remote {chosen!r}", f"remotes: {', '.join(remotes)}")
    _git(git_dir, "push", "--quiet", chosen, f"{ref}:{ref}")
    return chosen


@dataclass
class JobRef:
    ref: str
    commit: str
    created_at: float  # when the ref was written (its reflog), else the commit's date

    @property
    def job_id(self) -> str:
        return self.ref[len(REF_PREFIX) :]


def list_refs(root: Path | str) -> list[JobRef]:
    git_dir = git_dir_of(Path(root))
    if git_dir is None:
        raise ValidationError(f"{root} is not in a Git repository", "run it in the repository the jobs came from")
    out = _git(git_dir, "for-each-ref", "--format=%(refname) %(objectname) %(committerdate:unix)", REF_PREFIX)
    refs = []
    for line in out.splitlines():
        ref, commit, date = line.split(" ")
        refs.append(JobRef(ref, commit, _reflog_time(git_dir, ref) or float(date or 0)))
    return refs


def _reflog_time(git_dir: Path, ref: str) -> float | None:
    """The time the ref was created, from the reflog ``update-ref --create-reflog`` wrote."""
    log = git_dir / "logs" / ref
    try:
        first = log.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    match = re.search(r"> (\d+) [+-]\d{4}\t", first)
    return float(match.group(1)) if match else None


def prune_refs(
    root: Path | str, older_than: float, now: float | None = None, dry_run: bool = False
) -> list[JobRef]:
    """Delete ``refs/pai/jobs/*`` written more than ``older_than`` seconds ago; returns them."""
    now = time.time() if now is None else now
    old = [r for r in list_refs(root) if now - r.created_at > older_than]
    git_dir = git_dir_of(Path(root))
    if not dry_run and git_dir is not None:
        for r in old:
            _git(git_dir, "update-ref", "-d", r.ref, r.commit)
    return old
