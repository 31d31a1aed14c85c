"""ipywidgets views of a job, updated live from a background thread.

The widget polls the job through the client API (one ``get``, or a ``reconcile`` every
``backend.reconcile_interval`` seconds, and one
incremental ``metrics`` call per second) and stops polling when the job ends.
Its ``text/plain`` form is the same one-line summary the CLI prints, so a
frontend without widget support still shows something useful.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

from ...api.common import Cadence
from ...api.jobs import Job
from ...durations import format_duration
from ...errors import PaiError
from ..render.jobs import MetricSummary, elapsed, environment_lines, job_line
from .common import svg_line_chart

_STATE_COLOURS = {
    "Succeeded": "var(--jp-success-color1, #388e3c)",
    "Failed": "var(--jp-error-color1, #d32f2f)",
    "Stopped": "var(--jp-warn-color1, #f57c00)",
    "Running": "var(--jp-brand-color1, #1976d2)",
}


class JobWidget:
    """State, elapsed, steps/s, last loss, a loss curve and the log tail of one job."""

    def __init__(self, job: Job, poll: float | None = None, start: bool = True) -> None:
        import ipywidgets as w

        self.job = job
        # The backend's cadence by default: seconds on DLC (rate-limited API), 1 s locally.
        self.poll = poll if poll is not None else float(getattr(job.backend.training, "reconcile_interval", 1.0))
        self._reconcile = Cadence(job.backend)
        self.summary = MetricSummary()
        self._since: float | None = None
        self._stop = threading.Event()
        self.header = w.HTML()
        self.stats = w.HTML()
        self.advice = w.HTML()  # the runner's advice event (e.g. input-bound), once there is one
        self._next_advice_check = 0.0
        self.environment = w.HTML()  # the job's environment against the kernel's, once it recorded it
        self._next_env_check = 0.0
        self.chart = w.HTML()
        self.log_button = w.ToggleButton(description="Logs", icon="file-text-o", tooltip="Show the last log lines")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning")
        self.log_view = w.HTML(layout=w.Layout(display="none"))
        self.log_button.observe(self._toggle_logs, "value")
        self.stop_button.on_click(self._on_stop)
        self.view = w.VBox(
            [
                self.header,
                self.stats,
                self.advice,
                self.environment,
                self.chart,
                w.HBox([self.log_button, self.stop_button]),
                self.log_view,
            ]
        )
        self.update()
        self._thread: threading.Thread | None = None
        if start and not job.record.is_terminal:
            self._thread = threading.Thread(target=self._run, name=f"pai-widget-{job.id}", daemon=True)
            self._thread.start()

    # -- rendering ---------------------------------------------------------------
    def update(self) -> None:
        """Fetch what changed and redraw; errors show in the widget, never raise."""
        try:
            record = self.job.reconcile() if self._reconcile.due() else self.job.refresh()
            # First the whole range at a point budget (a million-point job stays fast), then increments.
            points = (
                self.job.metric_range(points=1000).points
                if self._since is None
                else self.job.metrics(since=self._since)
            )
        except PaiError as exc:
            self.stats.value = f'<span style="color:var(--jp-error-color1)">{html.escape(str(exc))}</span>'
            return
        if points:
            self.summary.add(points)
            self._since = self.summary.last_ts
        colour = _STATE_COLOURS.get(record.state, "var(--jp-ui-font-color1)")
        self.header.value = (
            f"<b>{html.escape(record.name)}</b> <code>{record.id}</code> "
            f'<span style="color:{colour};font-weight:bold">{record.state}</span> '
            f'<span style="color:var(--jp-ui-font-color2)">on {record.backend}, {record.spec.workers} worker(s)'
            + (f", attempt {record.attempt}" if record.attempt > 1 else "")
            + "</span>"
        )
        latest = self.summary.latest
        stats = [f"elapsed {format_duration(elapsed(record))}"]
        if self.summary.step is not None:
            stats.append(f"step {self.summary.step}")
        if "steps_per_sec" in latest:
            stats.append(f"{latest['steps_per_sec']:.2f} steps/s")
        if "loss" in latest:
            stats.append(f"loss {latest['loss']:.4g}")
        if "gpu_util" in latest:
            memory = f", {latest['gpu_memory_mb']:.0f} MB" if "gpu_memory_mb" in latest else ""
            stats.append(f"GPU {latest['gpu_util']:.0f}%{memory}")
        elif "cpu_percent" in latest:
            stats.append(f"CPU {latest['cpu_percent']:.0f}%, {latest.get('memory_mb', 0):.0f} MB")
        if record.reason and record.is_terminal:
            stats.append(html.escape(record.reason))
        self.stats.value = " · ".join(stats)
        self._show_advice(record.is_terminal)
        self._show_environment(record.is_terminal)
        self.chart.value = svg_line_chart(self.summary.series.get("loss", []), label="loss")
        self.stop_button.disabled = record.is_terminal
        if self.log_button.value:
            self._show_logs()

    def _show_advice(self, final: bool) -> None:
        """Advice comes from GPU telemetry: look for it only on GPU jobs, every 10 s at most."""
        if self.advice.value or "gpu_util" not in self.summary.latest:
            return
        if not final and time.monotonic() < self._next_advice_check:
            return
        self._next_advice_check = time.monotonic() + 10
        try:
            advice = [e for e in self.job.events() if e.kind == "advice"]
        except PaiError:
            return
        if advice:
            self.advice.value = (
                f'<div style="color:var(--jp-warn-color1);font-size:12px">'
                f"advice: {html.escape(advice[-1].message)}</div>"
            )

    def _show_environment(self, final: bool) -> None:
        """Once the job recorded its environment: what was installed and what still differs (every 10 s)."""
        if self.environment.value or (not final and time.monotonic() < self._next_env_check):
            return
        self._next_env_check = time.monotonic() + 10
        try:
            env = self.job.environment()
        except PaiError:
            return
        if not env or not env.get("recorded"):
            return
        lines = environment_lines(env)
        self.environment.value = (
            '<div style="font-size:12px;color:var(--jp-ui-font-color2)">'
            + "<br>".join(html.escape(line.strip()) for line in lines)
            + "</div>"
        )

    def _show_logs(self) -> None:
        try:
            text = self.job.logs(tail=20)
        except PaiError as exc:
            text = str(exc)
        self.log_view.value = (
            '<pre style="max-height:240px;overflow:auto;font-size:11px;margin:0">'
            f"{html.escape(text) or '(no output yet)'}</pre>"
            f'<div style="color:var(--jp-ui-font-color2);font-size:11px">'
            f"all logs: <code>jupyter pai jobs logs {self.job.id} --follow</code></div>"
        )

    def _toggle_logs(self, change: dict[str, Any]) -> None:
        self.log_view.layout.display = "block" if change["new"] else "none"
        if change["new"]:
            self._show_logs()

    def _on_stop(self, _button: Any) -> None:
        try:
            self.job.stop()
        except PaiError as exc:
            self.stats.value = html.escape(str(exc))
        self.update()

    def _run(self) -> None:
        while not self._stop.is_set():
            time.sleep(self.poll)
            self.update()
            if self.job.record.is_terminal:
                return

    def close(self) -> None:
        self._stop.set()

    # -- display -------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = job_line(self.job.record, self.summary)
        return bundle
