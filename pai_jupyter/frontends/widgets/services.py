"""An ipywidgets view of a service, updated live from a background thread.

It polls the service through the client API (one ``get`` and one incremental
``metrics`` call per tick) and shows per version: QPS, p50/p95 latency, error
rate and instances; the traffic split as a bar; the rollout's steps with their
results and the buttons to pause, resume, promote or abort it. Its
``text/plain`` form is the CLI's one-line summary, so frontends without widget
support still show something useful.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

from ...api.common import Cadence
from ...api.services import Service
from ...errors import NotFoundError, PaiError
from ...records import ROLLOUT_PAUSED, ServiceRecord
from ..render.services import ServiceFigures, rollout_line, service_line
from .common import svg_line_chart

# Version colours: theme variables with fallbacks, in deploy order.
_PALETTE = (
    "var(--jp-brand-color1, #1976d2)",
    "var(--jp-warn-color1, #f57c00)",
    "var(--jp-success-color1, #388e3c)",
    "var(--jp-error-color1, #d32f2f)",
    "var(--jp-ui-font-color2, #666)",
)
_RESULT_COLOURS = {
    "passed": "var(--jp-success-color1, #388e3c)",
    "promoted": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-error-color1, #d32f2f)",
    "aborted": "var(--jp-warn-color1, #f57c00)",
}


def colour(version: int) -> str:
    return _PALETTE[(version - 1) % len(_PALETTE)]


def traffic_bar(record: ServiceRecord, width: int = 320) -> str:
    """The traffic split as one bar, a segment per version with weight."""
    weights = sorted(record.weights.items())
    if not weights:
        return '<div style="color:var(--jp-ui-font-color2);font-size:11px">no traffic</div>'
    segments = "".join(
        f'<div title="v{v}: {w:g} %" style="width:{w:.3f}%;background:{colour(v)};color:white;'
        f'font-size:10px;text-align:center;overflow:hidden;white-space:nowrap">v{v} {w:g}%</div>'
        for v, w in weights
    )
    return (
        f'<div role="img" aria-label="traffic split" style="display:flex;width:{width}px;height:16px;'
        f'border:1px solid var(--jp-border-color1, #ccc)">{segments}</div>'
    )


def versions_html(record: ServiceRecord, figures: ServiceFigures) -> str:
    head = "".join(
        f'<th style="text-align:left;padding:0 8px 0 0">{h}</th>'
        for h in ("version", "state", "weight", "instances", "QPS", "p50 ms", "p95 ms", "errors")
    )
    rows = []
    for v in sorted(record.versions, key=lambda v: v.version):
        f = figures.versions.get(v.version)

        def cell(text: str) -> str:
            return f'<td style="padding:0 8px 0 0">{html.escape(text)}</td>'

        rows.append(
            "<tr>"
            + f'<td style="padding:0 8px 0 0;color:{colour(v.version)};font-weight:bold">v{v.version}</td>'
            + cell(v.state)
            + cell(f"{v.weight:g} %")
            + cell(f"{v.instances}/{v.desired_instances}")
            + cell(f"{f.qps:.1f}" if f else "-")
            + cell(f"{f.p50_ms:.1f}" if f and f.p50_ms is not None else "-")
            + cell(f"{f.p95_ms:.1f}" if f and f.p95_ms is not None else "-")
            + cell(f"{f.error_rate * 100:.1f} %" if f else "-")
            + "</tr>"
        )
    return f'<table style="font-size:12px;border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}</table>'


def rollout_html(record: ServiceRecord) -> str:
    rollout = record.rollout
    if rollout is None:
        return ""
    chips = []
    for i, weight in enumerate(rollout.plan):
        step = rollout.steps[i] if i < len(rollout.steps) else None
        result = step.result if step else None
        if result:
            style = f"background:{_RESULT_COLOURS.get(result, 'var(--jp-layout-color2)')};color:white"
        elif i == rollout.step and rollout.active:
            style = "border:2px solid var(--jp-brand-color1, #1976d2)"
        else:
            style = "border:1px dashed var(--jp-border-color1, #ccc)"
        label = f"{weight:g} %" + (f" {result}" if result else " baking" if step and rollout.active else "")
        chips.append(f'<span style="padding:1px 6px;margin-right:4px;border-radius:3px;{style}">{label}</span>')
    text = html.escape(rollout_line(rollout).split(": ", 1)[0])
    reason = (
        f'<div style="font-size:11px;color:var(--jp-ui-font-color2)">{html.escape(rollout.reason)}</div>'
        if rollout.reason
        else ""
    )
    return f'<div style="font-size:12px">{text}: {"".join(chips)}</div>{reason}'


class ServiceWidget:
    """Live view of one service: traffic split, per-version figures and charts, rollout."""

    def __init__(self, service: Service, poll: float = 1.0, start: bool = True, max_age_s: float = 3600.0) -> None:
        import ipywidgets as w

        self.service = service
        self.poll = poll
        self._reconcile = Cadence(service.backend)
        self.max_age_s = max_age_s
        self.figures = ServiceFigures()
        self._since: float | None = None
        self._stop = threading.Event()
        self.header = w.HTML()
        self.bar = w.HTML()
        self.table = w.HTML()
        self.charts = w.HTML()
        self.rollout = w.HTML()
        self.message = w.HTML()
        self.buttons = {
            action: w.Button(description=action.capitalize(), icon=icon, button_style=style)
            for action, icon, style in (
                ("pause", "pause", ""),
                ("resume", "play", ""),
                ("promote", "forward", "success"),
                ("abort", "undo", "warning"),
            )
        }
        for action, button in self.buttons.items():
            button.on_click(lambda _b, a=action: self._act(a))
        self.controls = w.HBox(list(self.buttons.values()))
        self.view = w.VBox(
            [self.header, self.bar, self.table, self.charts, self.rollout, self.controls, self.message]
        )
        self.update()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._run, name=f"pai-service-{service.name}", daemon=True)
            self._thread.start()

    # -- rendering ----------------------------------------------------------------------
    def update(self) -> bool:
        """Fetch what changed and redraw; errors show in the widget, never raise. False: stop polling."""
        try:
            record = self.service.reconcile() if self._reconcile.due() else self.service.refresh()
            points = self.service.metrics(since=self._since)
        except NotFoundError as exc:
            self.message.value = f'<span style="color:var(--jp-error-color1)">{html.escape(str(exc))}</span>'
            return False
        except PaiError as exc:
            self.message.value = f'<span style="color:var(--jp-error-color1)">{html.escape(str(exc))}</span>'
            return True
        if points:
            self.figures.add(points)
            self._since = self.figures.last_ts
        self.render(record)
        return True

    def render(self, record: ServiceRecord) -> None:
        self.header.value = (
            f"<b>{html.escape(record.name)}</b> <span style='color:var(--jp-ui-font-color2)'>"
            f"{html.escape(record.state)} on {html.escape(record.backend)}, env {html.escape(record.env)}</span> "
            f"<code>{html.escape(record.endpoint)}</code>"
        )
        self.bar.value = traffic_bar(record)
        self.table.value = versions_html(record, self.figures)
        charts = []
        for version in sorted(self.figures.versions):
            history = self.figures.versions[version].history
            for key, label in (("qps", "QPS"), ("p95_ms", "p95 ms"), ("error_rate", "errors")):
                charts.append(
                    svg_line_chart(history.get(key, [])[-120:], width=200, height=50, label=f"v{version} {label}")
                )
        self.charts.value = f'<div style="display:flex;flex-wrap:wrap;gap:6px">{"".join(charts)}</div>'
        self.rollout.value = rollout_html(record)
        rollout = record.rollout
        active = rollout is not None and rollout.active
        paused = active and rollout is not None and rollout.state == ROLLOUT_PAUSED
        self.buttons["pause"].disabled = not active or paused
        self.buttons["resume"].disabled = not paused
        self.buttons["promote"].disabled = not active
        self.buttons["abort"].disabled = not active
        self.controls.layout.display = "flex" if active else "none"

    def _act(self, action: str) -> None:
        try:
            self.service.rollout_action(action)
            self.message.value = f"{action}: done"
        except PaiError as exc:
            self.message.value = f'<span style="color:var(--jp-error-color1)">{html.escape(str(exc))}</span>'
        self.update()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.poll):
            if not self.update() or time.monotonic() - started > self.max_age_s:
                return

    def close(self) -> None:
        self._stop.set()

    # -- display --------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = service_line(self.service.record)
        return bundle
