"""Text views of services shared by the CLI, the serving magics' text mode and the widget."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...records import RolloutRecord, ServiceEvent, ServiceMetricPoint, ServiceRecord
from .common import age, table


@dataclass
class VersionFigures:
    """The latest window's figures of one version, plus short histories for charts."""

    qps: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    error_rate: float = 0.0
    requests: int = 0
    instances: int = 0
    weight: float = 0.0
    history: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


@dataclass
class ServiceFigures:
    """Folds a stream of ServiceMetricPoints into per-version figures."""

    versions: dict[int, VersionFigures] = field(default_factory=dict)
    last_ts: float | None = None
    keep: int = 300

    def add(self, points: Sequence[ServiceMetricPoint]) -> None:
        for p in sorted(points, key=lambda p: p.ts):
            v = self.versions.setdefault(p.version, VersionFigures())
            seen = v.history.get("qps")
            if seen and p.ts <= seen[-1][0]:
                continue  # already folded in (an overlapping ``since`` query)
            self.last_ts = p.ts if self.last_ts is None else max(self.last_ts, p.ts)
            v.qps, v.p50_ms, v.p95_ms, v.error_rate = p.qps, p.p50_ms, p.p95_ms, p.error_rate
            v.requests, v.instances, v.weight = p.requests, p.instances, p.weight
            for name, value in (
                ("qps", p.qps),
                ("p50_ms", p.p50_ms),
                ("p95_ms", p.p95_ms),
                ("error_rate", p.error_rate),
            ):
                if value is None:
                    continue
                series = v.history.setdefault(name, [])
                series.append((p.ts, float(value)))
                del series[: max(0, len(series) - self.keep)]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def weights_text(record: ServiceRecord) -> str:
    weights = record.weights
    return " / ".join(f"v{v} {w:g}%" for v, w in sorted(weights.items())) or "no traffic"


def service_line(record: ServiceRecord) -> str:
    line = f"{record.name}: {record.state}, {weights_text(record)}, {record.endpoint}"
    if record.rollout is not None and record.rollout.active:
        line += f" - {rollout_line(record.rollout)}"
    if record.reason:
        line += f" - {record.reason}"
    return line


def services_table(records: Sequence[ServiceRecord]) -> str:
    if not records:
        return "No services yet. Deploy one with %pai_deploy NAME --model ... or `jupyter pai deploy`."
    now = time.time()
    rows = []
    for r in records:
        instances = sum(v.instances for v in r.versions if v.weight > 0 or v.instances)
        rollout = rollout_line(r.rollout) if r.rollout is not None and r.rollout.active else "-"
        rows.append((r.name, r.state, r.env, weights_text(r), instances, rollout, age(r.created_at, now)))
    return table(rows, ["NAME", "STATE", "ENV", "TRAFFIC", "INSTANCES", "ROLLOUT", "CREATED"])


def versions_table(record: ServiceRecord, figures: ServiceFigures | None = None) -> str:
    rows = []
    for v in sorted(record.versions, key=lambda v: v.version):
        f = figures.versions.get(v.version) if figures else None
        io = _signature_text(v.signature)
        rows.append(
            (
                f"v{v.version}",
                v.state,
                f"{v.weight:g}%",
                f"{v.instances}/{v.desired_instances}",
                v.processor,
                f"{f.qps:.1f}" if f else "-",
                _ms(f.p50_ms) if f else "-",
                _ms(f.p95_ms) if f else "-",
                f"{f.error_rate * 100:.1f}%" if f else "-",
                io,
                v.job_id or v.model_uri,
            )
        )
    return table(
        rows,
        ["VERSION", "STATE", "WEIGHT", "INST", "PROC", "QPS", "P50 MS", "P95 MS", "ERRORS", "SIGNATURE", "MODEL"],
    )


def _signature_text(signature: dict) -> str:
    def side(items: list) -> str:
        return ",".join(
            f"{i.get('name')}:{i.get('dtype') or '?'}{list(i['shape']) if i.get('shape') is not None else ''}"
            for i in items or []
        )

    ins, outs = side(signature.get("inputs", [])), side(signature.get("outputs", []))
    return f"{ins or '-'} -> {outs or '-'}"


def rollout_line(rollout: RolloutRecord) -> str:
    steps = " -> ".join(
        (f"[{w:g}%]" if i == rollout.step and rollout.active else f"{w:g}%") for i, w in enumerate(rollout.plan)
    )
    text = f"rollout v{rollout.from_version} -> v{rollout.to_version} {rollout.state}: {steps}"
    if rollout.reason and not rollout.active:
        text += f" ({rollout.reason})"
    return text


def rollout_details(rollout: RolloutRecord | None) -> str:
    if rollout is None:
        return "No rollout yet: deploying a second version to this service starts one."
    lines = [rollout_line(rollout)]
    gates = rollout.gates or {}
    if gates:
        lines.append("  gates: " + ", ".join(f"{k}={v}" for k, v in gates.items() if v is not None))
    for i, step in enumerate(rollout.steps):
        ended = f"{step.ended_at - step.started_at:.0f}s" if step.ended_at else "baking"
        lines.append(f"  step {i + 1}: {step.weight:g}% {step.result or ''} ({ended})".rstrip())
    if rollout.reason:
        lines.append(f"  reason: {rollout.reason}")
    return "\n".join(lines)


def service_details(record: ServiceRecord, figures: ServiceFigures | None = None) -> str:
    spec = record.spec
    scaler = record.autoscaler or (spec.autoscaler.to_dict() if spec.autoscaler else {})
    lines = [
        service_line(record),
        f"  backend {record.backend}, env {record.env}, processor {spec.processor}, "
        f"cpu {spec.cpu}, memory {spec.memory_mb} MB"
        + (f", gpu {spec.gpu}" if spec.gpu else "")
        + (f", resource group {spec.resource_group}" if spec.resource_group else ""),
    ]
    if scaler:
        lines.append(
            f"  autoscaler: {scaler.get('min')}-{scaler.get('max')} instances, "
            f"{scaler.get('qps_per_instance')} QPS/instance, scale-in cooldown {scaler.get('scale_in_cooldown_s')}s"
            + (f", scale to zero after {scaler.get('idle_grace_s')}s idle" if scaler.get("scale_to_zero") else "")
        )
    if spec.max_batch_size:
        lines.append(
            f"  batching: up to {spec.max_batch_size} requests per model call, "
            f"waiting at most {spec.max_batch_timeout_ms} ms"
        )
    lines.append("")
    lines.append(versions_table(record, figures))
    if record.rollout is not None:
        lines.append("")
        lines.append(rollout_details(record.rollout))
    return "\n".join(lines)


def token_help(name: str, as_name: str | None = None) -> str:
    who = f"{as_name}.token()" if as_name else f'pai_jupyter.Service("{name}").token()'
    return f"token: {who} or `jupyter pai services token {name}`"


def metrics_table(points: Sequence[ServiceMetricPoint]) -> str:
    if not points:
        return "No metrics yet: send a request to the endpoint."
    rows = [
        (
            time.strftime("%H:%M:%S", time.localtime(p.ts)),
            f"v{p.version}",
            f"{p.weight:g}%",
            f"{p.qps:.1f}",
            _ms(p.p50_ms),
            _ms(p.p95_ms),
            f"{p.error_rate * 100:.1f}%",
            p.requests,
            p.instances,
        )
        for p in points
    ]
    return table(rows, ["TIME", "VERSION", "WEIGHT", "QPS", "P50 MS", "P95 MS", "ERRORS", "REQUESTS", "INST"])


def events_table(events: Sequence[ServiceEvent]) -> str:
    if not events:
        return "No events yet."
    rows = [
        (
            time.strftime("%H:%M:%S", time.localtime(e.ts)),
            e.kind,
            f"v{e.version}" if e.version is not None else "",
            e.message,
        )
        for e in events
    ]
    return table(rows, ["TIME", "KIND", "VERSION", "MESSAGE"])
