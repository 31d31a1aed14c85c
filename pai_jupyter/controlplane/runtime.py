"""The runtime file through which clients find the local control plane.

One file per state folder (``PAI_JUPYTER_HOME``), in the Jupyter runtime
directory, mode 0600: ``{"url", "token", "pid", "home", "version"}``. Clients
read it, check the server answers, and start one when none does.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir


def runtime_file(home: Path) -> Path:
    digest = hashlib.sha1(str(home.expanduser().resolve()).encode()).hexdigest()[:12]
    return Path(jupyter_runtime_dir()) / f"pai-server-{digest}.json"


def write_runtime(home: Path, info: dict[str, Any]) -> Path:
    path = runtime_file(home)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def read_runtime(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads(runtime_file(home).read_text())
    except (OSError, ValueError):
        return None


def remove_runtime(home: Path, pid: int) -> None:
    info = read_runtime(home)
    if info and info.get("pid") == pid:
        runtime_file(home).unlink(missing_ok=True)
