"""Experiments and comparisons as text (CLI, terminal IPython) and HTML (notebooks)."""

from __future__ import annotations

import html
from typing import Any

from ...api.experiments import Comparison, Run
from ...durations import format_duration
from .charts import line_chart
from .common import age, table

BEST = "*"


def experiments_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return "No experiments yet: jobs get one with --experiment NAME (default: the notebook's name)."
    rows = [(e["name"], e["runs"], age(e["last_created_at"])) for e in items]
    return table(rows, ["EXPERIMENT", "RUNS", "LAST RUN"])


def _cells(c: Comparison, run: Run) -> list[str]:
    record = run.job.record
    commit = (run.commit or "")[:10] + ("+dirty" if run.dirty and run.commit else "")
    duration = "" if run.duration_s is None else format_duration(run.duration_s)
    return [
        record.id,
        record.name,
        record.state,
        *(_number(run.final.get(m)) for m in c.metrics),
        *(run.hyperparameters.get(h, "") for h in c.hyperparameters),
        commit,
        duration,
    ]


def _headers(c: Comparison) -> list[str]:
    return ["JOB", "NAME", "STATE", *c.metrics, *(f"hp.{h}" for h in c.hyperparameters), "COMMIT", "DURATION"]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def comparison_text(c: Comparison) -> str:
    """A table with the best run marked ``*``, and a line saying which and why."""
    rows = [[BEST if i == c.best else "", *_cells(c, r)] for i, r in enumerate(c.runs)]
    text = table(rows, ["", *_headers(c)])
    title = f"Experiment {c.name}: {len(c.runs)} run(s)" if c.name else f"{len(c.runs)} run(s)"
    return f"{title}\n{text}\n{_best_line(c)}"


def _best_line(c: Comparison) -> str:
    direction = "highest" if c.maximize else "lowest"
    best = c.best_run
    if best is None:
        return f"No run reported {c.metric}; no best run marked."
    return f"{BEST} best by {c.metric} ({direction}): {best.job.id} with {best.final[c.metric]:.4g}"


def comparison_html(c: Comparison, chart: bool = True) -> str:
    """The table (best row highlighted) and, with ``chart``, the chosen metric of every run overlaid."""
    headers = "".join(f"<th>{html.escape(h)}</th>" for h in ["", *_headers(c)])
    rows = []
    for i, run in enumerate(c.runs):
        best = i == c.best
        style = ' style="background:var(--jp-layout-color2, #f0f7ff);font-weight:bold"' if best else ""
        mark = '<span title="best run">&#9733;</span>' if best else ""
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in _cells(c, run))
        rows.append(f"<tr{style}><td>{mark}</td>{cells}</tr>")
    title = f"Experiment <b>{html.escape(c.name)}</b>: " if c.name else ""
    out = [
        '<div class="pai-compare">',
        f"<div>{title}{len(c.runs)} run(s). {html.escape(_best_line(c))}</div>",
        '<table class="pai-compare-table" style="border-collapse:collapse;font-size:12px">',
        f"<thead><tr>{headers}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    if chart and c.metric:
        series = {f"{r.job.id} ({r.job.name})": r.series.get(c.metric, []) for r in c.runs}
        out.append(line_chart(series, y_label=c.metric))
    out.append("</div>")
    return "".join(out)
