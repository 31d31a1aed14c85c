"""What a training process learns from its environment: its rank, and which folders are OSS mounts.

Imported inside jobs (by ``report`` and ``Checkpointer``), so it stays free of heavy imports.

- Rank: PyTorch, MPI and XGBoost workers get ``RANK`` from DLC; TensorFlow workers get
  ``TF_CONFIG`` instead (``{"cluster": {...}, "task": {"type", "index"}}``, DLC's
  "General environment variables" page, pai-api.md section 2.4). Chief is rank 0,
  workers follow it, then the other roles, so per-worker files never collide.
- OSS mounts: DLC mounts OSS with JindoFuse. There ``fsync`` only works for files opened
  for append (pai-api.md section 9); a file written whole is committed to OSS when it is
  closed. The backend lists the job's read-write OSS mount paths in ``PAI_JUPYTER_OSS_MOUNTS``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

OSS_MOUNTS_ENV = "PAI_JUPYTER_OSS_MOUNTS"
_ROLE_ORDER = ("chief", "master", "worker", "ps", "evaluator")


def worker_rank(environ: dict[str, str] | None = None) -> int:
    """This process's worker rank: ``RANK``, else from ``TF_CONFIG``, else 0."""
    env = os.environ if environ is None else environ
    text = env.get("RANK")
    if text:
        return int(text)
    raw = env.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        config = json.loads(raw)
        task = config.get("task") or {}
        cluster = config.get("cluster") or {}
        role, index = str(task.get("type", "worker")).lower(), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        return 0
    before = 0
    for name in _ROLE_ORDER:
        if name == role:
            return before + index
        before += len(cluster.get(name) or [])
    return before + index


def _mounts() -> list[str]:
    raw = os.environ.get(OSS_MOUNTS_ENV, "")
    return [os.path.realpath(p) for p in raw.split(os.pathsep) if p]


def on_oss_mount(path: str | Path) -> bool:
    """True when ``path`` lies on one of the job's OSS mounts (fsync does not apply there)."""
    mounts = _mounts()
    if not mounts:
        return False
    real = os.path.realpath(path)
    return any(real == m or real.startswith(m.rstrip(os.sep) + os.sep) for m in mounts)
