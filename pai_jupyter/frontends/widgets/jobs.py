"""ipywidgets views of a job, updated live from a background thread.

The widget polls the job through the client API (one ``get``, or a ``reconcile`` every
``backend.reconcile_interval`` seconds, and one
incremental ``metrics`` call per second) and stops polling when the job ends.

What the output stores: ``show()`` displays one bundle with a display id: the live widget
view, a ``text/html`` rendering of the last state and the CLI's one-line ``text/plain``. At
each state change the display is updated; once the job has ended the widget view leaves the
bundle, so a saved notebook keeps a static rendering (header, figures, chart, the log tail in
a ``<details>``) that shows in JupyterLab after a reopen and in any static viewer.

One poller per cell and per job: a new widget for the same cell (re-running it) or for the same
job stops the older widget's thread (``claim``).
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from typing import Any

from ...api.common import Cadence
from ...api.jobs import Job
from ...decisions.actions import job_actions
from ...durations import format_duration
from ...errors import PaiError
from ...records import JobRecord
from ..render.charts import line_chart
from ..render.jobs import MetricSummary, elapsed, environment_lines, job_line

_STATE_COLOURS = {
    "Succeeded": "var(--jp-success-color1, #388e3c)",
    "Failed": "var(--jp-error-color1, #d32f2f)",
    "Stopped": "var(--jp-warn-color1, #f57c00)",
    "Running": "var(--jp-brand-color1, #1976d2)",
}


_live: dict[str, JobWidget] = {}  # "cell:<id>" / "job:<id>" -> the widget polling for it
_live_lock = threading.Lock()


def claim(widget: JobWidget, keys: list[str]) -> None:
    """Make ``widget`` the one poller for ``keys``; the widgets it replaces stop polling."""
    with _live_lock:
        older = {id(w): w for k in keys if (w := _live.get(k)) is not None and w is not widget}
        for key in keys:
            _live[key] = widget
    for old in older.values():
        old.close()


def stoppable(record: JobRecord) -> bool:
    """Stop is offered only where the server offers it (``decisions.actions``, as the sidebar)."""
    return "stop" in job_actions(record)


class JobWidget:
    """State, elapsed, steps/s, last loss, a loss curve and the log tail of one job."""

    def __init__(self, job: Job, poll: float | None = None, start: bool = True, cell: str | None = None) -> None:
        import ipywidgets as w

        self.job = job
        self.display_id = f"pai-job-{job.id}-{secrets.token_hex(4)}"
        self._shown_state: str | None = None  # the state last written to the displayed output
        self._keys = [f"job:{job.id}"] + ([f"cell:{cell}"] if cell else [])
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
        # Which reported metric the chart shows (loss first); the options grow as metrics appear.
        self.metric_picker = w.Dropdown(
            options=["loss"], value="loss", description="chart", layout=w.Layout(width="240px")
        )
        self.metric_picker.observe(lambda _change: self._draw_chart(), "value")
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
                w.HBox([self.metric_picker, self.log_button, self.stop_button]),
                self.log_view,
            ]
        )
        self.update()
        self._thread: threading.Thread | None = None
        claim(self, self._keys)
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
        self._draw_chart()
        self.stop_button.disabled = not stoppable(record)
        self.stop_button.layout.display = None if stoppable(record) else "none"
        self._show_environment(record.is_terminal)
        if self.log_button.value:
            self._show_logs()
        if self._shown_state is not None and record.state != self._shown_state:
            self._update_display()

    def _draw_chart(self) -> None:
        names = ["loss", *sorted(n for n in self.summary.series if n != "loss")]
        if tuple(names) != tuple(self.metric_picker.options):
            chosen = self.metric_picker.value
            self.metric_picker.options = names
            self.metric_picker.value = chosen if chosen in names else "loss"
        metric = self.metric_picker.value
        points, x_label = self.summary.series.get(metric, []), "step"
        if points and points[0][0] > 1e8:  # a sampled series (CPU, GPU) is placed by time: seconds from its first
            points, x_label = [(x - points[0][0], y) for x, y in points], "seconds"
        self.chart.value = line_chart({metric: points}, y_label=metric, x_label=x_label, height=160)

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
        try:
            while not self._stop.wait(self.poll):
                self.update()
                if self.job.record.is_terminal:
                    return
        finally:
            self._release()

    def close(self) -> None:
        """Stop polling (the thread ends within one poll) and give up this widget's cell and job."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(2.0, self.poll * 2))
        self._release()

    def _release(self) -> None:
        with _live_lock:
            for key in self._keys:
                if _live.get(key) is self:
                    del _live[key]

    @property
    def polling(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- display -------------------------------------------------------------
    def show(self) -> None:
        """Display the widget with its static rendering under one display id (updated at each state change)."""
        from IPython.display import display

        self._shown_state = self.job.record.state
        display(self.bundle(), raw=True, display_id=self.display_id)

    def _update_display(self) -> None:
        from IPython.display import update_display

        self._shown_state = self.job.record.state
        update_display(self.bundle(), raw=True, display_id=self.display_id)

    def bundle(self) -> dict[str, Any]:
        """The live view while the job runs, plus the static HTML and the one-line text; static only once it ended."""
        record = self.job.record
        data: dict[str, Any] = {}
        if not record.is_terminal:
            data.update(self.view._repr_mimebundle_())
        data["text/html"] = self.static_html()
        data["text/plain"] = job_line(record, self.summary)
        return data

    def static_html(self) -> str:
        """The last state as plain HTML (no script): what a saved notebook shows without a kernel."""
        record = self.job.record
        import ipywidgets as w

        # Every HTML part of the live view (header, figures, advice, chart, ...) but the log pane.
        shown = [c.value for c in self.view.children if isinstance(c, w.HTML) and c is not self.log_view]
        parts = [
            f'<div class="pai-job-static" data-job="{html.escape(record.id)}" data-state="{html.escape(record.state)}">',
            *(f"<div>{value}</div>" for value in shown if value),
        ]
        if record.is_terminal:
            try:
                tail = self.job.logs(tail=20)
            except PaiError as exc:
                tail = str(exc)
            parts.append(
                f"<details><summary>Logs (last lines)</summary>"
                f'<pre style="max-height:240px;overflow:auto;font-size:11px">{html.escape(tail)}</pre></details>'
            )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        parts.append(
            f'<div style="color:var(--jp-ui-font-color2, #666);font-size:11px">as of {stamp}; '
            f"<code>jupyter pai jobs show {html.escape(record.id)}</code></div></div>"
        )
        return "".join(parts)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.bundle()
