"""The state folder is private: the folder 0700, its files 0600, whatever the umask.

``state.sqlite`` holds every service token, the runtime file holds the control
plane's own token and the logs hold whatever a job printed. The control plane
process therefore runs with umask 077 (so SQLite's ``-wal``/``-shm``, logs,
backups and the lock are created 0600), and the files that may predate this
version, or that a client creates, are opened or fixed to 0600 explicitly.

Children (job workers, model instances) get the umask the user started with
back, and an environment without the control plane's own token: a training
script or a custom serving command is user code and must not be able to call
the control plane's API as its owner.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

# Variables of the control plane's own process that no child may inherit.
PRIVATE_ENV = ("PAI_JUPYTER_SERVER_TOKEN",)

_user_umask: int | None = None


def private_umask() -> None:
    """Make files this process creates 0600 from now on; children get the user's umask back."""
    global _user_umask
    previous = os.umask(0o077)
    if _user_umask is None:
        _user_umask = previous


def child_umask() -> int:
    """The umask children run with: the one the user started the control plane with."""
    if _user_umask is not None:
        return _user_umask
    current = os.umask(0o022)
    os.umask(current)
    return current


def child_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the control plane's secrets, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    if extra:
        env.update(extra)
    return env


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file 0600 (a database or log from an older version, say); absent is fine."""
    try:
        os.chmod(path, 0o600)
    except FileNotFoundError:
        pass
    return path


def open_private(path: Path, mode: str = "ab") -> IO[Any]:
    """Open ``path`` for appending/writing, created 0600 (and made 0600 if it existed)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode)
