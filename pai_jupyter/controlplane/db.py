"""SQLite state of the local control plane.

One ``Database`` per control-plane process, used from its event loop thread
only (statements are short; WAL keeps readers such as ``sqlite3`` in a shell
from blocking it). The schema is a list of migrations applied in order and
recorded in ``PRAGMA user_version``, so other components (serving) add their
tables with ``Database.migrate(name, statements)`` and a restart keeps
everything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import PaiError
from .private import private_dir, private_file

JOB_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        reason TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        outputs TEXT NOT NULL DEFAULT '{}',
        code_uri TEXT,
        provenance TEXT NOT NULL DEFAULT '{}',
        python TEXT,
        job_dir TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at)",
    """CREATE TABLE IF NOT EXISTS workers (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        state TEXT NOT NULL,
        pid INTEGER,
        pid_started REAL,
        exit_code INTEGER,
        PRIMARY KEY (job_id, rank)
    )""",
    """CREATE TABLE IF NOT EXISTS job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX IF NOT EXISTS job_events_job ON job_events(job_id, id)",
    """CREATE TABLE IF NOT EXISTS metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        worker INTEGER NOT NULL,
        ts REAL NOT NULL,
        step INTEGER,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        source TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS metrics_job ON metrics(job_id, ts)",
    """CREATE TABLE IF NOT EXISTS metric_offsets (
        job_id TEXT NOT NULL,
        worker INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        PRIMARY KEY (job_id, worker, attempt)
    )""",
]

# first/last/min/max of a series or bucket: x (step, or ts for step-less series), value, ts.
_EXTREMES = ", ".join(f"{e}_{c} REAL NOT NULL" for e in ("first", "last", "min", "max") for c in ("x", "v", "ts"))
# Metrics at scale: range queries answered from an index (series, x), pre-aggregated buckets
# (decisions.downsample.LEVEL_WIDTHS) and exact per-series summaries that compaction never touches.
METRICS_SCHEMA = [
    "CREATE INDEX IF NOT EXISTS metrics_series ON metrics(job_id, name, worker, coalesce(step, ts))",
    "ALTER TABLE jobs ADD COLUMN metrics_compacted INTEGER NOT NULL DEFAULT 0",
    f"""CREATE TABLE IF NOT EXISTS metric_series (
        job_id TEXT NOT NULL,
        name TEXT NOT NULL,
        worker INTEGER NOT NULL,
        source TEXT NOT NULL,
        has_step INTEGER NOT NULL,
        count INTEGER NOT NULL,
        {_EXTREMES},
        PRIMARY KEY (job_id, name, worker)
    ) WITHOUT ROWID""",
    f"""CREATE TABLE IF NOT EXISTS metric_buckets (
        job_id TEXT NOT NULL,
        name TEXT NOT NULL,
        worker INTEGER NOT NULL,
        level INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        {_EXTREMES},
        PRIMARY KEY (job_id, name, worker, level, bucket)
    ) WITHOUT ROWID""",
    # Job history pages: newest first with a keyset cursor on (created_at, id), and per state.
    "CREATE INDEX IF NOT EXISTS jobs_page ON jobs(created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS jobs_state_page ON jobs(state, created_at DESC, id DESC)",
]


class Database:
    def __init__(self, path: Path) -> None:
        check_database(path)  # a damaged file stops the start, before anything writes to it
        private_dir(path.parent)
        self.path = path
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)")
            self.migrate("jobs-1", JOB_SCHEMA)
            self.migrate("metrics-2", METRICS_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise damaged(path, str(exc)) from None
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
            private_file(path.parent / name)  # files from before this version were 0644

    def migrate(self, name: str, statements: Sequence[str]) -> bool:
        """Apply ``statements`` once, atomically, under ``name``; True when they ran now."""
        if self.applied(name):
            return False
        with self.transaction():
            for statement in statements:
                self.conn.execute(statement)
            self.conn.execute("INSERT INTO migrations(name) VALUES (?)", (name,))
        return True

    def applied(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is not None

    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        # Nested: the outer transaction commits or rolls back (e.g. metric ingestion with its offset).
        self.nested = self.conn.in_transaction
        if not self.nested:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self.nested:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


class DamagedState(PaiError):
    """The state database cannot be read: the control plane refuses to start on it."""

    http_status = 500


def backup_folder(path: Path) -> Path:
    return path.parent / "backups"


def damaged(path: Path, why: str) -> DamagedState:
    return DamagedState(
        f"the state database {path} is damaged ({why}); the control plane will not start on it",
        f"restore the last backup with `jupyter pai server restore` (backups in {backup_folder(path)}), "
        f"or move {path.name} aside to start with no records",
    )


def check_database(path: Path) -> None:
    """Raise DamagedState when ``path`` is not a whole SQLite database.

    A missing file is a first start. An empty one is a first start too, unless
    backups exist: then a database was there and has been truncated, and
    starting empty would silently drop every record.
    """
    if not path.exists():
        return
    if path.stat().st_size == 0:
        if any(backup_folder(path).glob("state-*.sqlite")):
            raise damaged(path, "the file is empty but backups of it exist")
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check(1)").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise damaged(path, str(exc)) from None
    if [tuple(r) for r in rows] != [("ok",)]:
        raise damaged(path, str(rows[0][0]) if rows else "the integrity check returned nothing")
