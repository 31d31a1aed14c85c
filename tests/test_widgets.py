"""The job widget, headless: ipywidgets construct without a kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from pai_jupyter.api.jobs import Job
from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.frontends.widgets.common import svg_line_chart
from pai_jupyter.frontends.widgets.jobs import JobWidget
from pai_jupyter.specs.job import JobSpec
from tests.conftest import wait_until
from tests.controlplane.jobs_helpers import submit_script, wait_for

pytestmark = pytest.mark.slow

SCRIPT = """
import time
from pai_jupyter import report
for step in range(1, 6):
    report(step=step, loss=1.0 / step)
    time.sleep(0.1)
print("almost done", flush=True)
time.sleep(60)
"""


def test_widget_shows_progress_logs_and_stops_the_job(pai_home: Path) -> None:
    backend = LocalBackend(PaiConfig())
    record = submit_script(backend, SCRIPT, JobSpec(name="widget-job"))
    job = Job(record, backend)
    widget = JobWidget(job, poll=0.2)
    try:
        wait_until(lambda: "step 5" in widget.stats.value, timeout=30, what="the widget to show the last loss")
        assert "widget-job" in widget.header.value and "Running" in widget.header.value
        assert "steps/s" in widget.stats.value and "loss 0.2 " in widget.stats.value + " "
        assert "<polyline" in widget.chart.value and ">loss<" in widget.chart.value
        assert {"loss", "steps_per_sec"} <= set(widget.metric_picker.options)
        widget.metric_picker.value = "steps_per_sec"  # the metric picker redraws the chart
        assert ">steps_per_sec<" in widget.chart.value
        widget.log_button.value = True
        wait_until(lambda: "almost done" in widget.log_view.value, what="the log tail")
        assert widget._repr_mimebundle_()["text/plain"].startswith(f"{job.id} 'widget-job': Running")
        widget.stop_button.click()
        wait_for(backend, job.id, {"Stopped"}, timeout=20)
        wait_until(lambda: "Stopped" in widget.header.value, what="the widget to show Stopped")
        assert (
            widget.stop_button.disabled and widget.stop_button.layout.display == "none"
        )  # no Stop on a finished job
    finally:
        widget.close()


def test_chart_needs_two_points() -> None:
    assert "waiting for data" in svg_line_chart([(1, 1.0)], label="loss")
    svg = svg_line_chart([(1, 1.0), (2, 0.5), (3, 0.25)], label="loss")
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3 and "loss 0.25" in svg
