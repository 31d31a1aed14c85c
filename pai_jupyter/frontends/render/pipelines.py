"""Text views of pipelines and their runs (CLI, magics). Input: the JSON shapes of
``controlplane.pipelines.routes`` (pipeline_json, run_json)."""

from __future__ import annotations

import time
from typing import Any

from .common import age, table

_MARK = {"succeeded": "ok", "failed": "FAILED", "skipped": "skipped", "running": "running", "pending": "pending"}


def _when(ts: float | None) -> str:
    return age(ts) if ts else "-"


def _triggers(spec: dict[str, Any]) -> str:
    parts = []
    for t in spec.get("triggers", []):
        if t["type"] == "cron":
            parts.append(f"cron {t['schedule']}")
        else:
            parts.append(f"objects under {t['prefix']} (debounce {t['debounce_s']:g}s)")
    return ", ".join(parts) or "manual only"


def pipelines_table(pipelines: list[dict[str, Any]]) -> str:
    if not pipelines:
        return "No pipelines. Define one with Pipeline(...).register() or %%pai_pipeline."
    rows = []
    for p in pipelines:
        last = p.get("last_run")
        rows.append(
            [
                p["name"],
                p["state"],
                " -> ".join(n["name"] for n in p["dag"]["nodes"]),
                _triggers(p["spec"]),
                f"#{last['number']} {last['state']} {_when(last['created_at'])}" if last else "-",
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(p["next_run"])) + " UTC" if p.get("next_run") else "-",
            ]
        )
    return table(rows, ["NAME", "STATE", "STEPS", "TRIGGERS", "LAST RUN", "NEXT RUN"])


def runs_table(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "No runs yet."
    rows = [
        [
            f"#{r['number']}",
            r["id"],
            r["state"],
            _trigger_text(r["trigger"]),
            " ".join(f"{s['name']}:{_MARK.get(s['state'], s['state'])}" for s in r["steps"]),
            _when(r["created_at"]),
        ]
        for r in runs
    ]
    return table(rows, ["RUN", "ID", "STATE", "TRIGGER", "STEPS", "CREATED"])


def _trigger_text(trigger: dict[str, Any]) -> str:
    kind = trigger.get("kind", "manual")
    if kind == "schedule":
        missed = trigger.get("missed") or 0
        return f"schedule {trigger.get('schedule')}" + (f" (+{missed} missed)" if missed else "")
    if kind == "objects":
        objects = trigger.get("objects") or []
        return f"{len(objects)} object(s) under {trigger.get('prefix')}"
    return kind


def gate_text(gate: dict[str, Any]) -> list[str]:
    """The gate's decision with every comparison and its figures."""
    head = f"gate {'PASSED' if gate['passed'] else 'FAILED'}: {gate['gate']}"
    serving = gate.get("serving_version")
    lines = [head, f"  serving: {gate.get('service')} v{serving}" if serving else "  serving: no version yet"]
    for c in gate["comparisons"]:
        figures = ", ".join("?" if v is None else f"{v:g}" for v in c["values"])
        note = f"  ({c['note']})" if c.get("note") else ""
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['text']}  [{figures}]{note}")
    return lines


def run_details(run: dict[str, Any]) -> str:
    lines = [
        f"Run #{run['number']} of {run['pipeline']} ({run['id']}): {run['state']}",
        f"  trigger: {_trigger_text(run['trigger'])}, created {_when(run['created_at'])}",
    ]
    if run.get("reason"):
        lines.append(f"  reason: {run['reason']}")
    for s in run["steps"]:
        link = ""
        if s.get("job_id"):
            link = f"  job {s['job_id']}"
        elif s.get("version"):
            link = f"  {s['service']} v{s['version']} (jupyter pai services show {s['service']})"
        lines.append(f"  [{_MARK.get(s['state'], s['state']):>7}] {s['name']} ({s['kind']}){link}")
        if s.get("reason") and s["state"] != "succeeded":
            lines.append(f"            {s['reason']}")
        if s.get("metrics"):
            lines.append(
                "            metrics: " + ", ".join(f"{k}={v:g}" for k, v in sorted(s["metrics"].items()))
            )
        if s.get("gate"):
            lines.extend("            " + line for line in gate_text(s["gate"]))
    return "\n".join(lines)


def pipeline_details(pipeline: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    spec = pipeline["spec"]
    prov = spec.get("provenance") or {}
    lines = [
        f"Pipeline {pipeline['name']} ({pipeline['state']}, revision {pipeline['revision']})",
        f"  steps: {' -> '.join(n['name'] for n in pipeline['dag']['nodes'])}",
        f"  triggers: {_triggers(spec)}; overlap {'allowed' if spec.get('allow_overlap') else 'not allowed'}",
    ]
    for step in spec["steps"]:
        reads = ", ".join(f"{k}={v}" for k, v in step.get("inputs", {}).items())
        extra = f" gate: {step['gate']}" if step.get("gate") else ""
        if step["kind"] == "deploy":
            extra = f" service: {step['service']}"
        lines.append(f"    {step['name']} ({step['kind']}){' reads ' + reads if reads else ''}{extra}")
    if prov:
        commit = prov.get("code_commit") or prov.get("git_commit")
        lines.append(
            f"  provenance: commit {str(commit)[:12] if commit else '-'}"
            f"{' (dirty)' if prov.get('git_dirty') else ''}, Python {prov.get('python') or '?'}, {prov.get('uri')}"
        )
    if pipeline.get("next_run"):
        lines.append(f"  next run: {time.strftime('%Y-%m-%d %H:%M', time.gmtime(pipeline['next_run']))} UTC")
    lines.append("")
    lines.append(runs_table(runs))
    return "\n".join(lines)


__all__ = ["gate_text", "pipeline_details", "pipelines_table", "run_details", "runs_table"]
