"""Jobs, workers, events and metrics in SQLite: the only code that writes them."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

from ...errors import NotFoundError, ValidationError
from ...records import JobEvent, JobPage, JobQuery, JobRecord, MetricPoint, WorkerRecord
from ...specs.job import JobSpec
from ..db import Database, dumps, loads
from .metric_store import MetricStore, RangeResult

_EXPERIMENT = "json_extract(spec, '$.experiment')"


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.metric_store = MetricStore(db)
        # Experiments are filtered and grouped by the spec's experiment, through an expression index.
        db.migrate(
            "jobs-experiment-1", [f"CREATE INDEX IF NOT EXISTS jobs_experiment ON jobs({_EXPERIMENT}, created_at)"]
        )

    # -- jobs ---------------------------------------------------------------
    def create(
        self, job_id: str, spec: JobSpec, code_uri: str | None, provenance: dict, python: str | None, job_dir: str
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs(id, name, state, spec, created_at, code_uri, provenance, python, job_dir)"
                " VALUES (?, ?, 'Creating', ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    spec.name,
                    dumps(spec.to_dict()),
                    time.time(),
                    code_uri,
                    dumps(provenance),
                    python,
                    job_dir,
                ),
            )
            conn.executemany(
                "INSERT INTO workers(job_id, rank, state) VALUES (?, ?, 'Pending')",
                [(job_id, rank) for rank in range(spec.workers)],
            )
        self.event(job_id, "state", "Creating")

    def row(self, job_id: str) -> Any:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise NotFoundError(f"job {job_id!r} does not exist", "list jobs with `jupyter pai jobs list`")
        return row

    def get(self, job_id: str) -> JobRecord:
        return self._record(self.row(job_id))

    def list(self, limit: int = 100, state: str | None = None, name: str | None = None) -> list[JobRecord]:
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if name:
            sql += " AND name LIKE ?"
            params.append(f"%{name}%")
        sql += " ORDER BY created_at DESC LIMIT ?"
        params.append(limit)
        return [self._record(r) for r in self.db.all(sql, params)]

    def page(self, query: JobQuery) -> JobPage:
        """One page of the history, newest first, filtered in SQL over every job; ``next`` is a
        keyset cursor on (created_at, id), so page N costs what page 1 costs."""
        where, params = _filters(query)
        total = self.db.one(f"SELECT COUNT(*) FROM jobs WHERE {where}", params)[0]
        sql, page_params = f"SELECT * FROM jobs WHERE {where}", list(params)
        if query.cursor:
            created_at, job_id = _decode_cursor(query.cursor)
            sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            page_params += [created_at, created_at, job_id]
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        page_params.append(query.limit + 1)
        if query.page and not query.cursor:
            sql += " OFFSET ?"
            page_params.append((query.page - 1) * query.limit)
        rows = self.db.all(sql, page_params)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        cursor = _encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
        return JobPage([self._record(r) for r in rows], total, cursor)

    def create_many(self, jobs: Sequence[tuple[str, JobSpec, float, str]]) -> None:
        """Batch insert of finished history ``(id, spec, created_at, state)`` (imports, benchmarks):
        one transaction, no per-job events."""
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO jobs(id, name, state, spec, created_at, finished_at, provenance, job_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, '{}', '')",
                [(i, spec.name, state, dumps(spec.to_dict()), ts, ts) for i, spec, ts, state in jobs],
            )
            conn.executemany(
                "INSERT INTO workers(job_id, rank, state) VALUES (?, 0, ?)",
                [(i, state) for i, _, _, state in jobs],
            )

    def ids_in_states(self, *states: str) -> list[str]:
        marks = ",".join("?" * len(states))
        rows = self.db.all(f"SELECT id FROM jobs WHERE state IN ({marks}) ORDER BY created_at", states)
        return [r["id"] for r in rows]

    def set_state(self, job_id: str, state: str, reason: str | None = None, **fields: Any) -> None:
        now = time.time()
        sets, params = ["state = ?"], [state]
        if reason is not None:
            sets.append("reason = ?")
            params.append(reason)
        if state == "Running" and "started_at" not in fields:
            fields["started_at"] = now
        if state in ("Succeeded", "Failed", "Stopped"):
            fields.setdefault("finished_at", now)
        for key, value in fields.items():
            sets.append(f"{key} = ?")
            params.append(dumps(value) if key == "outputs" else value)
        params.append(job_id)
        self.db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", params)
        self.event(job_id, "state", state + (f": {reason}" if reason else ""), {"state": state})

    def set_worker(self, job_id: str, rank: int, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE workers SET {sets} WHERE job_id = ? AND rank = ?", [*fields.values(), job_id, rank]
        )

    def workers(self, job_id: str) -> list[Any]:
        return self.db.all("SELECT * FROM workers WHERE job_id = ? ORDER BY rank", (job_id,))

    def experiments(self) -> list[dict[str, Any]]:
        """``[{"name", "runs", "last_created_at"}]``, the most recently used experiment first."""
        rows = self.db.all(
            f"SELECT {_EXPERIMENT} AS name, COUNT(*) AS runs, MAX(created_at) AS last FROM jobs"
            f" WHERE {_EXPERIMENT} IS NOT NULL GROUP BY {_EXPERIMENT} ORDER BY last DESC"
        )
        return [{"name": r["name"], "runs": r["runs"], "last_created_at": r["last"]} for r in rows]

    def experiment_jobs(self, name: str, limit: int = 500) -> list[JobRecord]:
        """The runs of one experiment, newest first."""
        rows = self.db.all(
            f"SELECT * FROM jobs WHERE {_EXPERIMENT} = ? ORDER BY created_at DESC LIMIT ?", (name, limit)
        )
        return [self._record(r) for r in rows]

    def provenance(self, job_id: str) -> dict:
        return loads(self.row(job_id)["provenance"], {})

    def add_provenance(self, job_id: str, fields: dict) -> dict:
        """Merge ``fields`` into the job's provenance (the code commit, known only after submit)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT provenance FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"job {job_id!r} does not exist", "list jobs with `jupyter pai jobs list`")
            provenance = {**loads(row[0], {}), **fields}
            conn.execute("UPDATE jobs SET provenance = ? WHERE id = ?", (dumps(provenance), job_id))
        return provenance

    # -- events ---------------------------------------------------------------
    def event(self, job_id: str, kind: str, message: str, data: dict | None = None) -> None:
        self.db.execute(
            "INSERT INTO job_events(job_id, ts, kind, message, data) VALUES (?, ?, ?, ?, ?)",
            (job_id, time.time(), kind, message, dumps(data or {})),
        )

    def events(self, job_id: str) -> list[JobEvent]:
        self.row(job_id)
        rows = self.db.all("SELECT * FROM job_events WHERE job_id = ? ORDER BY id", (job_id,))
        return [JobEvent(r["ts"], r["kind"], r["message"], loads(r["data"], {})) for r in rows]

    # -- metrics --------------------------------------------------------------
    def add_metrics(self, job_id: str, points: list[MetricPoint]) -> None:
        """A batch of points: raw rows, buckets and summaries in one transaction."""
        self.metric_store.add(job_id, points)

    def metric_range(
        self,
        job_id: str,
        names: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        budget: int = 1000,
    ) -> RangeResult:
        """Each series over ``[start, end]`` (step, or time for step-less series) in at most
        ``budget`` points (M4), with the exact summary of every series."""
        compacted = bool(self.row(job_id)["metrics_compacted"])
        return self.metric_store.range(job_id, names, start, end, budget, compacted)

    def compact_metrics(self, retention_s: float, now: float | None = None) -> list[str]:
        return self.metric_store.compact(retention_s, now)

    def metrics(
        self, job_id: str, since: float | None = None, names: list[str] | None = None
    ) -> list[MetricPoint]:
        self.row(job_id)
        sql, params = "SELECT * FROM metrics WHERE job_id = ?", [job_id]
        if since is not None:
            sql += " AND ts > ?"
            params.append(since)
        if names:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params.extend(names)
        rows = self.db.all(sql + " ORDER BY ts, id", params)
        return [MetricPoint(r["name"], r["value"], r["ts"], r["step"], r["worker"], r["source"]) for r in rows]

    def last_step_point(self, job_id: str, worker: int) -> tuple[float, int] | None:
        row = self.db.one(
            "SELECT ts, step FROM metrics WHERE job_id = ? AND worker = ? AND source = 'report'"
            " AND step IS NOT NULL ORDER BY id DESC LIMIT 1",
            (job_id, worker),
        )
        return (row["ts"], row["step"]) if row else None

    def metric_offset(self, job_id: str, worker: int, attempt: int) -> int:
        row = self.db.one(
            "SELECT offset FROM metric_offsets WHERE job_id = ? AND worker = ? AND attempt = ?",
            (job_id, worker, attempt),
        )
        return row["offset"] if row else 0

    def set_metric_offset(self, job_id: str, worker: int, attempt: int, offset: int) -> None:
        self.db.execute(
            "INSERT INTO metric_offsets(job_id, worker, attempt, offset) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(job_id, worker, attempt) DO UPDATE SET offset = excluded.offset",
            (job_id, worker, attempt, offset),
        )

    # -- records ----------------------------------------------------------------
    def _record(self, row: Any) -> JobRecord:
        workers = [
            WorkerRecord(rank=w["rank"], state=w["state"], pid=w["pid"], exit_code=w["exit_code"])
            for w in self.workers(row["id"])
        ]
        return JobRecord(
            id=row["id"],
            name=row["name"],
            state=row["state"],
            spec=JobSpec.from_dict(loads(row["spec"])),
            backend="local",
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            reason=row["reason"],
            attempt=row["attempt"],
            workers=workers,
            outputs=loads(row["outputs"], {}),
            code_uri=row["code_uri"],
        )


def _filters(query: JobQuery) -> tuple[str, list[Any]]:
    where, params = ["1=1"], []
    if query.q:
        text = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(name LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')")
        params += [text, text]
    if query.state:
        where.append("state = ?")
        params.append(query.state)
    if query.backend and query.backend != "local":
        where.append("0")  # every job of this store runs on the local backend
    if query.framework:
        where.append("json_extract(spec, '$.framework') = ?")
        params.append(query.framework)
    if query.experiment:
        where.append("json_extract(spec, '$.experiment') = ?")
        params.append(query.experiment)
    if query.since is not None:
        where.append("created_at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("created_at < ?")
        params.append(query.until)
    return " AND ".join(where), params


def _encode_cursor(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{job_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = text.split("|", 1)
        return float(created_at), job_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            f"{cursor!r} is not a page cursor of this list", "pass the 'next' value of the previous page"
        ) from None
