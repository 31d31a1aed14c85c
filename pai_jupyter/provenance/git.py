"""Git state through GitPython: commit, branch, remote, dirty flag, the full diff.

The diff covers staged, unstaged and untracked (not ignored) files, in
``git apply``-able binary form, built with a temporary index so the user's own
index is never touched. It is capped in size; when capped the record says so
and a warning tells the user how to get an exact record.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .redact import strip_url_credentials

DEFAULT_MAX_DIFF_BYTES = 5 * 2**20


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def open_repo(cwd: Path) -> Any | None:
    """The Git repository containing ``cwd``, or None (also when git itself is missing)."""
    try:
        import git
    except ImportError:  # GitPython fails to import when no git executable exists
        return None
    try:
        return git.Repo(cwd, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def capture_git(cwd: Path | str, max_diff_bytes: int = DEFAULT_MAX_DIFF_BYTES) -> dict[str, Any]:
    cwd = Path(cwd).resolve()
    repo = open_repo(cwd)
    if repo is None:
        return {"is_repo": False, "reason": "not a Git repo", "warnings": []}
    warnings: list[str] = []
    root = Path(repo.working_tree_dir or cwd)
    try:
        commit = repo.head.commit.hexsha
    except ValueError:  # no commits yet
        commit = None
        warnings.append("the repository has no commits yet; the whole tree is recorded as a diff")
    try:
        branch = None if repo.head.is_detached else repo.active_branch.name
    except TypeError:
        branch = None
    remote = None
    if repo.remotes:
        chosen = next((r for r in repo.remotes if r.name == "origin"), repo.remotes[0])
        try:
            remote = strip_url_credentials(next(iter(chosen.urls)))
        except Exception:
            remote = None
    untracked = repo.untracked_files
    dirty = repo.is_dirty(untracked_files=False) or bool(untracked)
    diff = _full_diff(repo, commit) if dirty else ""
    raw = diff.encode("utf-8", errors="surrogateescape")
    truncated = len(raw) > max_diff_bytes
    if truncated:
        diff = raw[:max_diff_bytes].decode("utf-8", errors="ignore")
        warnings.append(
            f"the uncommitted diff is {_human(len(raw))}, over the {_human(max_diff_bytes)} cap: only its start "
            "is recorded, so this run cannot be rebuilt exactly; commit your changes (or raise the cap)"
        )
    return {
        "is_repo": True,
        "root": str(root),
        "commit": commit,
        "branch": branch,
        "remote": remote,
        "dirty": dirty,
        "untracked": untracked,
        "diff": diff,
        "diff_bytes": len(raw),
        "diff_truncated": truncated,
        "warnings": warnings,
    }


def _full_diff(repo: Any, commit: str | None) -> str:
    """Working tree (incl. untracked files) against HEAD, via a throwaway index."""
    git_dir = Path(repo.git_dir)
    with tempfile.TemporaryDirectory(prefix="pai-git-") as tmp:
        index = Path(tmp) / "index"
        if (git_dir / "index").exists():
            shutil.copyfile(git_dir / "index", index)
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        repo.git.execute(["git", "add", "-A", "--", "."], env=env, with_extended_output=False)
        base = commit or _empty_tree(repo)
        return repo.git.execute(
            ["git", "diff", "--cached", "--binary", "--no-color", "--no-ext-diff", base],
            env=env,
            strip_newline_in_stdout=False,
        )


def _empty_tree(repo: Any) -> str:
    return repo.git.hash_object("-t", "tree", "/dev/null")


def tracked_and_untracked(repo: Any) -> list[str]:
    """Paths (relative to the repo root) of files in the working tree that Git would commit."""
    out = repo.git.ls_files("-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p})
