"""How a job's environment differs from the kernel's, and why (a pure function over dicts).

Inputs are what the client captured at submit (the kernel's ``environment``
and the ``env_sync`` plan in the job's provenance), the requirement lines the
job was given (``JobSpec.requirements``) and what the job recorded at start
(``provenance/record_env.py``), or None while it has not. The answer is the
``environment`` key of ``GET /pai/api/jobs/ID`` and what ``jupyter pai jobs show``
lists: what was installed, and each distribution the code needs, each framework
and Python where the job still runs another version than the kernel, with the
reason.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(line: str) -> tuple[str, str | None] | None:
    """``(canonical name, pinned version or None)`` of a pip requirement line; None for options/URLs."""
    if line.strip().startswith("-") or "://" in line:
        return None
    m = _NAME.match(line)
    return (_canonical(m.group(1)), m.group(2)) if m else None


def environment_diff(
    kernel: dict[str, Any] | None,
    env_sync: dict[str, Any] | None,
    requirements: tuple[str, ...] | list[str],
    recorded: dict[str, Any] | None,
) -> dict[str, Any]:
    kernel = kernel or {}
    env_sync = env_sync or {}
    mode = str(env_sync.get("mode") or "auto")
    kernel_pkgs: dict[str, str] = {_canonical(k): str(v) for k, v in (kernel.get("packages") or {}).items()}
    job_pkgs: dict[str, str] = {_canonical(k): str(v) for k, v in ((recorded or {}).get("packages") or {}).items()}
    wanted = dict(p for p in (parse_requirement(r) for r in requirements) if p is not None)
    # What the job has as asked (before it recorded anything: what it was asked to install).
    installed = [
        {"name": name, "version": job_pkgs.get(name) if recorded else pinned}
        for name, pinned in wanted.items()
        if not recorded or (name in job_pkgs and pinned in (None, job_pkgs[name]))
    ]
    result: dict[str, Any] = {
        "recorded": recorded is not None,
        "mode": mode,
        "installed": installed,
        "differs": [],
    }
    if recorded is None:
        return result
    differs = result["differs"]
    kernel_py = str((kernel.get("python") or {}).get("version") or "")
    job_py = str((recorded.get("python") or {}).get("version") or "")
    if kernel_py and job_py and kernel_py != job_py:
        why = (
            "the image's interpreter (same minor version, another patch release)"
            if kernel_py.rsplit(".", 1)[0] == job_py.rsplit(".", 1)[0]
            else "the image's interpreter: no official image has the kernel's Python"
        )
        differs.append({"name": "python", "kernel": kernel_py, "job": job_py, "why": why})
    needed = [_canonical(n) for n in (env_sync.get("distributions") or {})]
    frameworks = [
        _canonical(str(name))
        for name in (kernel.get("frameworks") or {})
        if _canonical(str(name)) in kernel_pkgs or _canonical(str(name)) in job_pkgs
    ]
    for name in dict.fromkeys([*needed, *wanted, *frameworks]):
        have, want = job_pkgs.get(name), kernel_pkgs.get(name)
        unmet = name in wanted and wanted[name] not in (None, have)  # asked for a version it did not get
        if not unmet and (have == want or (want is None and name not in wanted)):
            continue
        differs.append({"name": name, "kernel": want, "job": have, "why": _why(name, have, mode, wanted, needed)})
    return result


def _why(name: str, have: str | None, mode: str, wanted: dict[str, str | None], needed: list[str]) -> str:
    if name in wanted:
        if have is None:
            return "was to be installed but is missing: see the job's log for pip's error"
        if wanted[name] and wanted[name] != have:
            return f"pip left {have} although {wanted[name]} was asked for: see the job's log"
        return "installed as --requirements asked (not the kernel's version)"
    if mode == "off":
        return "not installed: --no-env-sync"
    if mode == "file":
        return "not in --requirements FILE"
    if name not in needed:
        return "the image's version: the code does not import it, so it was not pinned"
    return "the image's version"
