"""Text views of jobs shared by the CLI, the magics' text mode and widgets."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...durations import format_duration
from ...records import JobEvent, JobRecord, MetricPoint
from .common import age, table

_SPARK = "▁▂▃▄▅▆▇█"


@dataclass
class MetricSummary:
    """The figures a person looks at, folded from a stream of MetricPoints."""

    step: int | None = None
    latest: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # name -> [(x, value)]
    last_ts: float | None = None

    def add(self, points: Iterable[MetricPoint], worker: int = 0) -> None:
        for p in points:
            self.last_ts = p.ts if self.last_ts is None else max(self.last_ts, p.ts)
            if p.source == "system":
                key = p.name if p.worker == worker else None
                if key is None:
                    continue
            elif p.worker != worker:
                continue
            self.latest[p.name] = p.value
            x = float(p.step) if p.step is not None and p.source != "system" else p.ts
            self.series.setdefault(p.name, []).append((x, p.value))
            if p.step is not None and p.source == "report":
                self.step = p.step if self.step is None else max(self.step, p.step)


def elapsed(record: JobRecord, now: float | None = None) -> float:
    if record.started_at is None:
        return 0.0
    end = record.finished_at or now or time.time()
    return max(0.0, end - record.started_at)


def sparkline(values: Sequence[float], width: int = 30) -> str:
    if not values:
        return ""
    if len(values) > width:
        stride = len(values) / width
        values = [values[int(i * stride)] for i in range(width)]
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(_SPARK[min(len(_SPARK) - 1, int((v - lo) / span * (len(_SPARK) - 1)))] for v in values)


def job_line(record: JobRecord, summary: MetricSummary | None = None) -> str:
    """One line for a job: what it is, where it is, how it is doing."""
    parts = [f"{record.id} {record.name!r}: {record.state}"]
    if record.attempt > 1:
        parts.append(f"attempt {record.attempt}")
    if record.started_at:
        parts.append(f"elapsed {format_duration(elapsed(record))}")
    if summary is not None:
        if summary.step is not None:
            parts.append(f"step {summary.step}")
        if "steps_per_sec" in summary.latest:
            parts.append(f"{summary.latest['steps_per_sec']:.2f} steps/s")
        if "loss" in summary.latest:
            parts.append(f"loss {summary.latest['loss']:.4g}")
        if "gpu_util" in summary.latest:
            parts.append(f"GPU {summary.latest['gpu_util']:.0f}%")
        elif "cpu_percent" in summary.latest:
            parts.append(f"CPU {summary.latest['cpu_percent']:.0f}%")
    line = ", ".join(parts)
    if record.reason and record.is_terminal and record.state != "Succeeded":
        line += f" - {record.reason}"
    return line


def jobs_table(records: Sequence[JobRecord]) -> str:
    if not records:
        return "No jobs yet. Submit one with %%pai_train or `jupyter pai train SCRIPT.py`."
    now = time.time()
    rows = [
        (
            r.id,
            r.name,
            r.state,
            r.backend,
            r.spec.framework,
            r.spec.workers,
            age(r.created_at, now),
            format_duration(elapsed(r, now)) if r.started_at else "-",
        )
        for r in records
    ]
    return table(rows, ["ID", "NAME", "STATE", "BACKEND", "FRAMEWORK", "WORKERS", "CREATED", "ELAPSED"])


def page_line(shown: int, total: int, cursor: str | None, page: int | None = None) -> str:
    """``Showing 50 of 3,120 jobs; next page: --before CURSOR.`` under a page of the history."""
    line = f"Showing {shown:,} of {total:,} job{'s' if total != 1 else ''}"
    if page:
        line += f" (page {page})"
    if cursor:
        line += f"; next page: --before {cursor}"
    return line + "."


def job_details(
    record: JobRecord,
    summary: MetricSummary | None = None,
    provenance: dict | None = None,
    events: list[JobEvent] | None = None,
    environment: dict | None = None,
) -> str:
    spec = record.spec
    lines = [
        job_line(record, summary),
        f"  framework {spec.framework}, {spec.workers} worker(s)"
        + (f", {spec.instance_type}" if spec.instance_type else "")
        + (", spot" if spec.spot else "")
        + f", resource group {spec.resource_group}",
    ]
    for item in spec.inputs:
        lines.append(f"  input  {item.channel}: {item.uri}")
    if spec.hyperparameters:
        lines.append("  hp         " + " ".join(f"{k}={v}" for k, v in spec.hyperparameters.items()))
    for key in ("model", "checkpoints", "tensorboard", "provenance"):
        if key in record.outputs:
            lines.append(f"  {key:<11}{record.outputs[key]}")
    if provenance:
        git = provenance.get("git") or {}
        if git.get("is_repo"):
            lines.append(
                f"  git        {str(git.get('commit') or '')[:12]} on {git.get('branch') or 'detached HEAD'}"
                + (" (dirty: uncommitted changes captured)" if git.get("dirty") else "")
            )
        else:
            lines.append("  git        not a Git repo")
        if provenance.get("code_commit"):
            lines.append(f"  code       {provenance['code_commit']} ({provenance.get('code_ref')})")
    lines += environment_lines(environment)
    if summary is not None and "loss" in summary.series:
        lines.append(f"  loss       {sparkline([v for _, v in summary.series['loss']])}")
    for event in events or []:
        if event.kind == "attempt":
            lines.append(f"  attempt    {event.message}")
        elif event.kind == "advice":
            lines.append(f"  advice     {event.message}")
        elif event.kind in ("layout", "warning"):
            lines.append(f"  {event.kind:<11}{event.message}")
    return "\n".join(lines)


def environment_lines(environment: dict | None) -> list[str]:
    """The job's environment against the kernel's (``Job.environment()``), for ``jobs show``."""
    if not environment:
        return []
    mode = environment.get("mode", "auto")
    installed = environment.get("installed") or []
    how = {"auto": "the kernel's versions", "file": "--requirements", "off": "nothing (--no-env-sync)"}[mode]
    names = ", ".join(f"{i['name']}=={i['version']}" if i.get("version") else i["name"] for i in installed)
    lines = [f"  env sync   {how}" + (f": {names}" if names else "")]
    if not environment.get("recorded"):
        lines.append("  env diff   not recorded yet (the job writes it when it starts)")
        return lines
    differs = environment.get("differs") or []
    if not differs:
        lines.append("  env diff   none: the job runs the kernel's versions of what the code imports")
    for d in differs:
        lines.append(
            f"  env diff   {d['name']}: kernel {d.get('kernel') or '-'}, job {d.get('job') or '-'} ({d['why']})"
        )
    return lines
