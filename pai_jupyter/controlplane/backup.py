"""Rotating backups of ``state.sqlite`` and restoring one.

A backup is taken with SQLite's online backup API (``Connection.backup``), so
it is a consistent copy even while the control plane writes: one when the
control plane starts (after the database passed its integrity check) and one
every ``PaiConfig.backup_interval`` seconds, kept in ``<home>/backups`` as
``state-<UTC time>.sqlite`` (0600), the newest ``PaiConfig.backup_keep``.

``restore`` (``jupyter pai server restore [BACKUP]``) puts a backup back while
no control plane runs; the damaged file is kept beside it, never deleted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path

from ..errors import NotFoundError, PaiError, ValidationError
from .db import DamagedState, Database, backup_folder, check_database
from .private import private_dir

log = logging.getLogger(__name__)
PATTERN = "state-*.sqlite"


def take_backup(db: Database, keep: int) -> Path:
    """Copy the live database to ``backups/state-<time>.sqlite``; remove all but the newest ``keep``."""
    folder = private_dir(backup_folder(db.path))
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.3f}"[1:] + "Z"
    target = folder / f"state-{stamp}.sqlite"
    tmp = folder / f".{target.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # created 0600 before SQLite opens it
    os.close(fd)
    dest = sqlite3.connect(str(tmp))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    for old in backups(db.path)[max(keep, 1) :]:
        old.unlink(missing_ok=True)
    return target


def backups(path: Path) -> list[Path]:
    """Backups of the database at ``path``, newest first."""
    return sorted(backup_folder(path).glob(PATTERN), reverse=True)


async def backup_loop(db: Database, interval: float, keep: int) -> None:
    """Take a backup every ``interval`` seconds until cancelled; a failed one is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            take_backup(db, keep)
        except (OSError, sqlite3.Error) as exc:
            log.warning("backup of %s failed: %s", db.path, exc)


def restore(path: Path, backup: str | None = None) -> tuple[Path, Path | None]:
    """Put ``backup`` (default: the newest whole one) in place of the database at ``path``.

    Returns (the backup used, where the replaced file was kept or None when there was none).
    The caller makes sure no control plane runs on ``path``.
    """
    source = _choose(path, backup)
    kept = None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if path.exists():
        kept = path.with_name(f"{path.name}.damaged-{stamp}")
        os.replace(path, kept)
    for suffix in ("-wal", "-shm"):  # they belong to the replaced file, not to the backup
        side = path.with_name(path.name + suffix)
        if side.exists():
            if suffix == "-wal":
                os.replace(side, path.with_name(f"{path.name}{suffix}.damaged-{stamp}"))
            else:
                side.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dest = sqlite3.connect(str(path))
    try:
        src.backup(dest)
    finally:
        dest.close()
        src.close()
    os.chmod(path, 0o600)
    return source, kept


def _choose(path: Path, backup: str | None) -> Path:
    if backup:
        candidate = Path(backup).expanduser()
        if not candidate.exists():
            candidate = backup_folder(path) / backup
        if not candidate.is_file():
            raise NotFoundError(
                f"backup {backup} does not exist", f"list them with `ls {backup_folder(path)}`, or omit it"
            )
        try:
            check_database(candidate)
        except DamagedState:
            raise ValidationError(f"backup {candidate} is damaged too", "choose an older one") from None
        if candidate.stat().st_size == 0:
            raise ValidationError(f"backup {candidate} is empty", "choose another one")
        return candidate
    found = backups(path)
    for candidate in found:
        try:
            check_database(candidate)
        except DamagedState:
            log.warning("skipping damaged backup %s", candidate)
            continue
        if candidate.stat().st_size:
            return candidate
    raise PaiError(
        f"no usable backup of {path} in {backup_folder(path)}",
        f"move {path.name} aside to start with no records",
    )
