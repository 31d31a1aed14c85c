"""Experiments: runs grouped by ``--experiment NAME`` and compared side by side.

An experiment is the value of ``JobSpec.experiment`` (default: the notebook's name, see
``default_experiment``). ``experiment(NAME)`` and ``compare(JOB, JOB, ...)`` load each run's
hyperparameters (``--hp``), final metrics (the last value each reported metric had on worker
0), Git commit and duration, sort them and mark the best run by a chosen metric. The magics,
the CLI and the REST API only render what this returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..decisions.experiments import best_index, maximize_metric, sort_key
from ..errors import NotFoundError, PaiError, ValidationError
from ..records import MetricPoint
from .common import BackendArg, resolve_backend
from .jobs import Job, get_job, public_record
from .naming import DEFAULT_EXPERIMENT, default_experiment, experiment_name

__all__ = [
    "DEFAULT_EXPERIMENT",
    "RUN_COLUMNS",
    "Comparison",
    "Run",
    "compare",
    "default_experiment",
    "experiment",
    "experiment_name",
    "experiments",
    "final_metrics",
    "load_run",
]

# Columns every run has; any other sort key is a final metric or a hyperparameter.
RUN_COLUMNS = ("created", "duration", "name", "state", "commit")


@dataclass
class Run:
    """One run of a comparison: the job and what the table shows of it."""

    job: Job
    hyperparameters: dict[str, str]
    final: dict[str, float]
    commit: str | None
    dirty: bool
    duration_s: float | None
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # name -> [(step, value)]

    def value(self, column: str) -> Any:
        """The value sorted on for ``column`` (a run column, a final metric or a hyperparameter)."""
        record = self.job.record
        if column == "created":
            return record.created_at
        if column == "duration":
            return self.duration_s
        if column in ("name", "state"):
            return getattr(record, column)
        if column == "commit":
            return self.commit
        if column in self.final:
            return self.final[column]
        return self.hyperparameters.get(column)

    def to_json(self) -> dict[str, Any]:
        """The REST shape: ``{"job", "hyperparameters", "final", "commit", "dirty", "duration_s"}``."""
        return {
            "job": public_record(self.job.record),
            "hyperparameters": dict(self.hyperparameters),
            "final": dict(self.final),
            "commit": self.commit,
            "dirty": self.dirty,
            "duration_s": self.duration_s,
        }


@dataclass
class Comparison:
    """Runs side by side, sorted, with the best one by ``metric`` marked (``best``: an index)."""

    name: str | None
    runs: list[Run]
    metric: str | None
    maximize: bool
    best: int | None
    sort: str

    @property
    def metrics(self) -> list[str]:
        """Every final metric any run reported, the chosen one first."""
        names = sorted({n for r in self.runs for n in r.final})
        if self.metric in names:
            names.remove(self.metric)
            names.insert(0, self.metric)
        return names

    @property
    def hyperparameters(self) -> list[str]:
        return sorted({n for r in self.runs for n in r.hyperparameters})

    @property
    def best_run(self) -> Run | None:
        return None if self.best is None else self.runs[self.best]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runs": [r.to_json() for r in self.runs],
            "metric": self.metric,
            "maximize": self.maximize,
            "best": None if self.best_run is None else self.best_run.job.id,
            "sort": self.sort,
        }


def experiments(backend: BackendArg = None) -> list[dict[str, Any]]:
    """``[{"name", "runs", "last_created_at"}]``, the most recently used first."""
    return resolve_backend(backend).training.experiments()


def experiment(
    name: str,
    *,
    metric: str | None = None,
    sort: str | None = None,
    maximize: bool | None = None,
    descending: bool | None = None,
    series: bool = False,
    limit: int = 500,
    backend: BackendArg = None,
) -> Comparison:
    """The runs of experiment ``name``; NotFoundError when it has none."""
    be = resolve_backend(backend)
    records = be.training.experiment_jobs(name, limit=limit)
    if not records:
        known = ", ".join(e["name"] for e in be.training.experiments()[:10]) or "none yet"
        raise NotFoundError(
            f"experiment {name!r} has no runs",
            f"experiments: {known} (submit with --experiment {name})",
        )
    jobs = [Job(r, be) for r in records]
    return _compare(name, jobs, metric, sort, maximize, descending, series)


def compare(
    job_ids: Sequence[str],
    *,
    metric: str | None = None,
    sort: str | None = None,
    maximize: bool | None = None,
    descending: bool | None = None,
    series: bool = True,
    backend: BackendArg = None,
) -> Comparison:
    """Any jobs side by side (``%pai_compare JOB JOB ...``), in the order given unless ``sort``."""
    if not job_ids:
        raise ValidationError("name at least one job to compare", "e.g. %pai_compare job-1 job-2")
    be = resolve_backend(backend)
    with ThreadPoolExecutor(max_workers=min(8, len(job_ids))) as pool:
        jobs = list(pool.map(lambda i: get_job(i, backend=be), dict.fromkeys(job_ids)))
    names = {j.spec.experiment for j in jobs}
    return _compare(
        names.pop() if len(names) == 1 else None, jobs, metric, sort or "given", maximize, descending, series
    )


def _compare(
    name: str | None,
    jobs: list[Job],
    metric: str | None,
    sort: str | None,
    maximize: bool | None,
    descending: bool | None,
    series: bool,
) -> Comparison:
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(jobs)))) as pool:
        runs = list(pool.map(lambda j: load_run(j, series), jobs))
    reported = {n for r in runs for n in r.final}
    if metric is None:
        metric = "loss" if "loss" in reported or not reported else sorted(reported)[0]
    higher = maximize_metric(metric, maximize)
    sort = sort or "created"
    hyperparameters = {n for r in runs for n in r.hyperparameters}
    if sort not in (*RUN_COLUMNS, "given") and sort not in reported and sort not in hyperparameters:
        metrics = ", ".join(sorted(reported)) or "none reported"
        hps = ", ".join(sorted(hyperparameters)) or "none given"
        raise ValidationError(
            f"--sort {sort!r} is not a column of these runs",
            f"sort by {', '.join(RUN_COLUMNS)}, a metric ({metrics}) or a hyperparameter ({hps})",
        )
    if sort != "given":
        if descending is None:  # newest first; metrics best first; everything else ascending
            descending = sort == "created" or (sort in reported and higher)
        present = [r for r in runs if r.value(sort) is not None]
        missing = [r for r in runs if r.value(sort) is None]
        present.sort(key=lambda r: sort_key(r.value(sort)), reverse=descending)
        runs = present + missing  # runs without the value go last either way
    best = best_index([r.final for r in runs], metric, maximize)
    return Comparison(name=name, runs=runs, metric=metric, maximize=higher, best=best, sort=sort)


def load_run(job: Job, series: bool = False) -> Run:
    """One job's row: hyperparameters, final metrics, commit and duration (and series if asked)."""
    record = job.record
    try:
        points = job.metrics()
    except PaiError:
        points = []
    final, curves = final_metrics(points)
    try:
        provenance = job.provenance
    except PaiError:  # a job not submitted by pai-jupyter has none
        provenance = {}
    git = provenance.get("git") or {}
    commit = provenance.get("code_commit") or git.get("commit")
    duration = None
    if record.started_at is not None:
        duration = (record.finished_at or time.time()) - record.started_at
    return Run(
        job=job,
        hyperparameters={str(k): str(v) for k, v in (getattr(record.spec, "hyperparameters", None) or {}).items()},
        final=final,
        commit=commit,
        dirty=bool(git.get("dirty")),
        duration_s=duration,
        series=curves if series else {},
    )


def final_metrics(points: list[MetricPoint]) -> tuple[dict[str, float], dict[str, list[tuple[float, float]]]]:
    """The last value of each reported metric on worker 0, and each metric's (step, value) curve.

    System samples (CPU, GPU) are not results and are left out; a point without a step is
    placed by its order.
    """
    curves: dict[str, list[tuple[float, float]]] = {}
    for point in sorted(points, key=lambda p: p.ts):
        if point.worker != 0 or point.source == "system":
            continue
        curve = curves.setdefault(point.name, [])
        curve.append((float(point.step) if point.step is not None else float(len(curve)), point.value))
    return {name: curve[-1][1] for name, curve in curves.items()}, curves
