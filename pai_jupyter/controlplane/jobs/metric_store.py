"""Metric points at scale: raw points, pre-aggregated buckets and exact per-series summaries.

Every batch of points is written in one transaction to three tables:

- ``metrics``: the raw points, indexed on (job, name, worker, x) where x is the step
  (or the time, for step-less system metrics): a range is an index range, not a scan;
- ``metric_buckets``: first/last/min/max/count per bucket of x at the widths of
  ``decisions.downsample.LEVEL_WIDTHS`` (16, 256, 4096, 65536), merged by UPSERT;
- ``metric_series``: the same figures over the whole series (the exact summary).

A range query at a point budget reads the coarsest level with at least ``budget``
buckets in the range (a few thousand rows for a 1,000,000-point series), reads the raw
points of the two partial buckets at the range's edges, and merges everything into M4
buckets (``decisions.downsample.m4``). Compaction deletes the raw points of finished
jobs past the retention; buckets and summaries stay, so no figure changes, and the
finest level (16 steps) stands in for the raw points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ...decisions.downsample import (
    LEVEL_WIDTHS,
    Bucket,
    Point,
    choose_level,
    coarser,
    fold,
    m4,
    rollup,
    summary_json,
)
from ...records import TERMINAL_STATES, MetricPoint
from ..db import Database

_EXTREMES = ("first", "last", "min", "max")
_COLS = [f"{e}_{c}" for e in _EXTREMES for c in ("x", "v", "ts")]
_X = "coalesce(step, ts)"  # the expression of the metrics_series index


def _merge_sql(table: str, keys: Sequence[str], extra: Sequence[str] = ()) -> str:
    """An UPSERT that merges a bucket into the stored one (the SET side reads the old row)."""
    cols = [*keys, *extra, "count", *_COLS]
    sets = ["count = count + excluded.count"]
    tests = {
        "first": "excluded.first_x < first_x",
        "last": "excluded.last_x >= last_x",
        "min": "excluded.min_v < min_v",
        "max": "excluded.max_v > max_v",
    }
    for e in _EXTREMES:
        for c in ("x", "v", "ts"):
            col = f"{e}_{c}"
            sets.append(f"{col} = CASE WHEN {tests[e]} THEN excluded.{col} ELSE {col} END")
    return (
        f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        f" ON CONFLICT({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
    )


_SERIES_UPSERT = _merge_sql("metric_series", ("job_id", "name", "worker"), ("source", "has_step"))
_BUCKET_UPSERT = _merge_sql("metric_buckets", ("job_id", "name", "worker", "level", "bucket"))


def _bucket_values(b: Bucket) -> list[float]:
    return [v for p in (b.first, b.last, b.min, b.max) for v in p]


def _bucket_of(row: Any) -> Bucket:
    def p(e: str) -> Point:
        return (row[f"{e}_x"], row[f"{e}_v"], row[f"{e}_ts"])

    return Bucket(row["count"], p("first"), p("last"), p("min"), p("max"))


@dataclass
class Series:
    name: str
    worker: int
    source: str
    has_step: bool
    summary: Bucket


@dataclass
class RangeResult:
    points: list[MetricPoint]
    summary: dict[str, dict[str, Any]]
    downsampled: bool


class MetricStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        if not db.applied("metrics-2-backfill"):
            self._backfill()

    # -- writing ------------------------------------------------------------------
    def add(self, job_id: str, points: Sequence[MetricPoint]) -> None:
        """Store a batch: raw rows, bucket merges and series summaries in one transaction."""
        if not points:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO metrics(job_id, worker, ts, step, name, value, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(job_id, p.worker, p.ts, p.step, p.name, p.value, p.source) for p in points],
            )
            self._aggregate(conn, job_id, points)

    def _aggregate(self, conn: Any, job_id: str, points: Iterable[MetricPoint]) -> None:
        groups: dict[tuple[str, int], tuple[str, bool, list[Point]]] = {}
        for p in points:
            key = (p.name, p.worker)
            if key not in groups:
                groups[key] = (p.source, p.step is not None, [])
            groups[key][2].append((float(p.step) if p.step is not None else p.ts, p.value, p.ts))
        series_rows, bucket_rows = [], []
        for (name, worker), (source, has_step, pts) in groups.items():
            whole = fold(pts)
            if whole is not None:
                series_rows.append(
                    [job_id, name, worker, source, int(has_step), whole.count, *_bucket_values(whole)]
                )
            level_buckets = rollup(pts, LEVEL_WIDTHS[1])
            for level in sorted(LEVEL_WIDTHS):
                if level > 1:  # each level from the one below: a quarter of the work each time
                    level_buckets = coarser(level_buckets, int(LEVEL_WIDTHS[level] // LEVEL_WIDTHS[level - 1]))
                for index, b in level_buckets.items():
                    bucket_rows.append([job_id, name, worker, level, index, b.count, *_bucket_values(b)])
        conn.executemany(_SERIES_UPSERT, series_rows)
        conn.executemany(_BUCKET_UPSERT, bucket_rows)

    def _backfill(self) -> None:
        """Build buckets and summaries for points stored before they existed (once)."""
        jobs = [r["job_id"] for r in self.db.all("SELECT DISTINCT job_id FROM metrics")]
        with self.db.transaction() as conn:
            for job_id in jobs:
                rows = conn.execute(
                    "SELECT name, value, ts, step, worker, source FROM metrics WHERE job_id = ?", (job_id,)
                ).fetchall()
                self._aggregate(conn, job_id, (MetricPoint(*r) for r in rows))
            conn.execute("INSERT INTO migrations(name) VALUES ('metrics-2-backfill')")

    # -- reading --------------------------------------------------------------------
    def series(self, job_id: str, names: Sequence[str] | None = None) -> list[Series]:
        sql, params = "SELECT * FROM metric_series WHERE job_id = ?", [job_id]
        if names:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params.extend(names)
        rows = self.db.all(sql + " ORDER BY name, worker", params)
        return [Series(r["name"], r["worker"], r["source"], bool(r["has_step"]), _bucket_of(r)) for r in rows]

    def summary(self, series: Sequence[Series]) -> dict[str, dict[str, Any]]:
        """Exact figures per name, of the name's lowest worker (worker 0 in a healthy job)."""
        out: dict[str, dict[str, Any]] = {}
        for s in series:
            if s.name not in out:
                out[s.name] = {**summary_json(s.summary, s.has_step), "worker": s.worker}
        return out

    def range(
        self,
        job_id: str,
        names: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        budget: int = 1000,
        compacted: bool = False,
    ) -> RangeResult:
        """Every series of the job (or of ``names``) over ``[start, end]`` in at most ``budget`` points each."""
        all_series = self.series(job_id, names)
        points: list[MetricPoint] = []
        downsampled = False
        for s in all_series:
            lo = s.summary.first[0] if start is None else max(start, s.summary.first[0])
            hi = s.summary.last[0] if end is None else min(end, s.summary.last[0])
            if hi < lo:
                continue
            pts, count = self._series_range(job_id, s, lo, hi, budget, compacted)
            downsampled = downsampled or len(pts) < count
            points.extend(
                MetricPoint(s.name, p[1], p[2], int(p[0]) if s.has_step else None, s.worker, s.source) for p in pts
            )
        return RangeResult(points, self.summary(all_series), downsampled)

    def _series_range(
        self, job_id: str, s: Series, lo: float, hi: float, budget: int, compacted: bool
    ) -> tuple[list[Point], int]:
        level = choose_level(lo, hi, budget)
        if level == 0:
            if compacted:
                buckets = self._fine(job_id, s, lo, hi)
            else:
                buckets = [Bucket.of(p) for p in self._raw(job_id, s, lo, hi)]
            count = sum(b.count for b in buckets)
            if len(buckets) <= budget and not compacted:
                return [b.first for b in buckets], count
            return m4(buckets, lo, hi, budget), count
        width = LEVEL_WIDTHS[level]
        k_lo, k_hi = math.ceil(lo / width), math.floor(hi / width) - 1  # buckets wholly inside [lo, hi]
        inner = self._bucket_rows(job_id, s, level, k_lo, k_hi)
        edge_hi_from = (k_hi + 1) * width
        if compacted:  # no raw points: the finest buckets at the edges stand in for them
            edges = self._fine(job_id, s, lo, k_lo * width, upper_open=True)
            edges += self._fine(job_id, s, edge_hi_from, hi)
        else:
            edges = [Bucket.of(p) for p in self._raw(job_id, s, lo, k_lo * width, upper_open=True)]
            edges += [Bucket.of(p) for p in self._raw(job_id, s, edge_hi_from, hi)]
        buckets = [*inner, *edges]
        return m4(buckets, lo, hi, budget), sum(b.count for b in buckets)

    def _raw(self, job_id: str, s: Series, lo: float, hi: float, upper_open: bool = False) -> list[Point]:
        op = "<" if upper_open else "<="
        cursor = self.db.conn.cursor()
        cursor.row_factory = None
        return cursor.execute(
            f"SELECT {_X}, value, ts FROM metrics WHERE job_id = ? AND name = ? AND worker = ?"
            f" AND {_X} >= ? AND {_X} {op} ? ORDER BY {_X}",
            (job_id, s.name, s.worker, lo, hi),
        ).fetchall()

    def _bucket_rows(self, job_id: str, s: Series, level: int, k_lo: int, k_hi: int) -> list[Bucket]:
        cursor = self.db.conn.cursor()
        cursor.row_factory = None  # plain tuples: thousands of rows per query, decoded by position
        rows = cursor.execute(
            f"SELECT count, {', '.join(_COLS)} FROM metric_buckets WHERE job_id = ? AND name = ? AND worker = ?"
            " AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
            (job_id, s.name, s.worker, level, k_lo, k_hi),
        ).fetchall()
        return [Bucket(r[0], r[1:4], r[4:7], r[7:10], r[10:13]) for r in rows]

    def _fine(self, job_id: str, s: Series, lo: float, hi: float, upper_open: bool = False) -> list[Bucket]:
        """The finest (level 1) buckets that overlap ``[lo, hi]`` (or ``[lo, hi)``)."""
        width = LEVEL_WIDTHS[1]
        k_lo = math.floor(lo / width)
        k_hi = math.ceil(hi / width) - 1 if upper_open else math.floor(hi / width)
        return self._bucket_rows(job_id, s, 1, k_lo, k_hi) if k_hi >= k_lo else []

    def stream(
        self, job_id: str, names: Sequence[str] | None = None, after: int = 0, limit: int = 50_000
    ) -> tuple[list[MetricPoint], int | None]:
        """One page of every raw point in storage order, from row id ``after``; the next ``after`` or None."""
        sql, params = (
            "SELECT id, name, value, ts, step, worker, source FROM metrics WHERE job_id = ? AND id > ?",
            [
                job_id,
                after,
            ],
        )
        if names:
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params.extend(names)
        rows = self.db.all(sql + " ORDER BY id LIMIT ?", [*params, limit])
        points = [MetricPoint(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
        return points, (rows[-1][0] if len(rows) == limit else None)

    def compacted_stream(self, job_id: str, names: Sequence[str] | None = None) -> Iterator[MetricPoint]:
        """A compacted job's finest buckets' first/min/max/last points (its raw points are gone)."""
        for s in self.series(job_id, names):
            rows = self.db.all(
                "SELECT * FROM metric_buckets WHERE job_id = ? AND name = ? AND worker = ? AND level = 1"
                " ORDER BY bucket",
                (job_id, s.name, s.worker),
            )
            for row in rows:
                for p in _bucket_of(row).points():
                    yield MetricPoint(s.name, p[1], p[2], int(p[0]) if s.has_step else None, s.worker, s.source)

    # -- compaction ------------------------------------------------------------------
    def mark_for_compaction(self, retention_s: float, now: float | None = None) -> list[str]:
        """Flag the jobs that ended more than ``retention_s`` ago: from now on their ranges are read
        from the buckets (``delete_compacted`` then removes their raw points, a chunk at a time)."""
        cutoff = (time.time() if now is None else now) - retention_s
        marks = ",".join("?" * len(TERMINAL_STATES))
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT id FROM jobs WHERE metrics_compacted = 0 AND state IN ({marks}) AND finished_at < ?",
                [*sorted(TERMINAL_STATES), cutoff],
            ).fetchall()
            conn.executemany("UPDATE jobs SET metrics_compacted = 1 WHERE id = ?", [(r[0],) for r in rows])
        return [r[0] for r in rows]

    def delete_compacted(self, limit: int = 20_000) -> int:
        """Delete up to ``limit`` raw points of flagged jobs (buckets and summaries stay); the count."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM metrics WHERE id IN (SELECT m.id FROM jobs j JOIN metrics m ON m.job_id = j.id"
                " WHERE j.metrics_compacted = 1 LIMIT ?)",
                (limit,),
            )
        return int(cursor.rowcount)

    def compact(self, retention_s: float, now: float | None = None) -> list[str]:
        """Flag and clear at once (the control plane does it in chunks between requests instead)."""
        done = self.mark_for_compaction(retention_s, now)
        while self.delete_compacted(50_000):
            pass
        return done
