"""GPU telemetry and the input-bound advice through the real control plane.

The control plane runs as its own process, so NVML is replaced where the
library is imported: a ``pynvml`` module placed first on its ``PYTHONPATH``
answers like a driver with one GPU at 25 % that cannot list processes (as in
many containers). Everything else (runner, sampler, SQLite, HTTP, CLI) is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pai_jupyter.api import jobs as client
from pai_jupyter.specs.job import JobSpec
from tests.conftest import python_env

pytestmark = pytest.mark.slow

FAKE_PYNVML = """
from types import SimpleNamespace

class NVMLError(Exception):
    pass

def nvmlInit():
    pass

def nvmlShutdown():
    pass

def nvmlDeviceGetCount():
    return 1

def nvmlDeviceGetHandleByIndex(index):
    return index

def nvmlDeviceGetUtilizationRates(handle):
    return SimpleNamespace(gpu=25, memory=10)

def nvmlDeviceGetMemoryInfo(handle):
    return SimpleNamespace(used=3 * 2**30, total=80 * 2**30, free=77 * 2**30)

def nvmlDeviceGetComputeRunningProcesses(handle):
    raise NVMLError("Not Supported")
"""


def test_low_gpu_utilisation_becomes_an_advice_event(
    pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text(FAKE_PYNVML)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PAI_JUPYTER_SAMPLE_EVERY", "0.3")
    monkeypatch.setenv("PAI_JUPYTER_ADVICE_WINDOW", "2s")
    script = tmp_path / "starved.py"
    script.write_text("import time\ntime.sleep(7)\n")
    job = client.submit_file(script, JobSpec(name="starved"), cwd=tmp_path).wait(timeout=60, poll=0.2)

    advice = [e for e in job.events() if e.kind == "advice"]
    assert len(advice) == 1, "advised once, not on every sample"
    assert advice[0].data["kind"] == "input-bound" and advice[0].data["window_s"] == 2
    assert "averaged 25% (below 60%)" in advice[0].message
    assert "num_workers" in advice[0].message and "do not add GPUs" in advice[0].message

    gpu = [p for p in job.metrics(names=["gpu_util", "gpu_memory_mb"]) if p.worker == 0]
    assert {p.name for p in gpu} == {"gpu_util", "gpu_memory_mb"}
    assert {p.value for p in gpu if p.name == "gpu_util"} == {25.0}
    assert {p.value for p in gpu if p.name == "gpu_memory_mb"} == {3072.0}

    from pai_jupyter.frontends.widgets.jobs import JobWidget

    widget = JobWidget(job, start=False)
    assert "GPU 25%, 3072 MB" in widget.stats.value
    assert "advice: GPU utilisation averaged 25%" in widget.advice.value

    def pai(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "pai_jupyter.frontends.cli.main", *args],
            capture_output=True,
            text=True,
            env=python_env(),
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "gpu_util" in pai("jobs", "metrics", job.id)
    events = json.loads(pai("jobs", "events", job.id, "--json"))
    assert any(e["kind"] == "advice" and "input-bound" in e["message"] for e in events)
