"""The job widget lists the job's environment against the kernel's once the job recorded it."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from pai_jupyter.api.jobs import submit
from pai_jupyter.frontends.widgets.jobs import JobWidget
from pai_jupyter.specs.job import JobSpec

pytestmark = pytest.mark.slow


def test_widget_lists_what_the_job_installed(pai_home: Path, tmp_path: Path) -> None:
    job = submit("import numpy\nprint(numpy.__version__)\n", JobSpec(name="env-widget"), cwd=tmp_path)
    job.wait(timeout=60)
    widget = JobWidget(job, start=False)
    try:
        text = widget.environment.value
        assert f"env sync   the kernel&#x27;s versions: numpy=={metadata.version('numpy')}" in text
        assert "env diff   none" in text
    finally:
        widget.close()
