"""Tails the JSON-lines metric files that ``report()`` writes into SQLite.

Offsets are stored per (job, worker, attempt), so a restarted control plane
continues where it stopped and never double-counts. Only complete lines are
read; a line the script is still writing waits for the next tick.
``steps_per_sec`` is derived here, once (``reporting.read_lines``), from
consecutive reported steps, so every view (widget, sidebar, CLI) shows the same figure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ...records import MetricPoint
from ...reporting import read_lines
from .store import JobStore

log = logging.getLogger(__name__)
_MAX_READ = 4 * 1024 * 1024


class MetricsTail:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._last_step: dict[tuple[str, int], tuple[float, int]] = {}

    def ingest(self, job_id: str, job_dir: Path, attempt: int, workers: Iterable[int]) -> int:
        total = 0
        for worker in workers:
            path = job_dir / "metrics" / f"worker-{worker}.{attempt}.jsonl"
            if not path.exists():
                continue
            offset = self.store.metric_offset(job_id, worker, attempt)
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(_MAX_READ)
            end = data.rfind(b"\n")
            if end < 0:
                continue
            points = self._parse(job_id, worker, data[: end + 1])
            with self.store.db.transaction():
                self.store.add_metrics(job_id, points)
                self.store.set_metric_offset(job_id, worker, attempt, offset + end + 1)
            total += len(points)
        return total

    def _parse(self, job_id: str, worker: int, data: bytes) -> list[MetricPoint]:
        key = (job_id, worker)
        last = self._last_step.get(key) or self.store.last_step_point(job_id, worker)
        points, last = read_lines(
            data.splitlines(),
            worker,
            last,
            lambda: log.warning("job %s worker %s: skipped a malformed metrics line", job_id, worker),
        )
        if last is not None:
            self._last_step[key] = last
        return points
