"""GPU telemetry through NVML, with NVML faked only at the library boundary (``pynvml``).

This machine has no GPU: the real NVML path is exercised here only as far as
"the library is installed but no driver is found", which must turn GPU
sampling off without errors.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from pai_jupyter.controlplane.jobs.sampling import JobSampler
from pai_jupyter.telemetry.nvml import GpuDevice, NvmlReader, per_worker

pynvml = pytest.importorskip("pynvml")
MB = 2**20


class FakeGpus:
    """What the NVML C library would answer, per device."""

    def __init__(self, devices: list[dict]) -> None:
        self.devices = devices
        self.init_calls = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def init() -> None:
            self.init_calls += 1

        def handle(index: int) -> dict:
            return self.devices[index]

        def util(h: dict) -> SimpleNamespace:
            if h.get("broken"):
                raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
            return SimpleNamespace(gpu=h["util"], memory=0)

        def procs(h: dict) -> list[SimpleNamespace]:
            if h.get("procs") is None:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return [SimpleNamespace(pid=pid, usedGpuMemory=mb * MB) for pid, mb in h["procs"].items()]

        monkeypatch.setattr(pynvml, "nvmlInit", init)
        monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)
        monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: len(self.devices))
        monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", handle)
        monkeypatch.setattr(pynvml, "nvmlDeviceGetUtilizationRates", util)
        monkeypatch.setattr(
            pynvml, "nvmlDeviceGetMemoryInfo", lambda h: SimpleNamespace(used=h["used"] * MB, total=81920 * MB)
        )
        monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", procs)


@pytest.fixture
def worker() -> Iterator[subprocess.Popen]:
    """A real process with a child, standing in for a worker and its DataLoader process."""
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    import psutil

    deadline = time.monotonic() + 10
    while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield proc
    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    proc.kill()
    proc.wait()


def test_devices_are_read_through_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeGpus([{"util": 35, "used": 1024, "procs": {11: 900}}, {"util": 90, "used": 2048, "procs": None}])
    fake.install(monkeypatch)
    reader = NvmlReader()
    assert reader.available
    assert reader.devices() == [
        GpuDevice(0, 35.0, 1024.0, 81920.0, {11: 900.0}),
        GpuDevice(1, 90.0, 2048.0, 81920.0, None),
    ]
    reader.devices()
    assert fake.init_calls == 1, "NVML is initialised once per process"


def test_a_lost_gpu_is_left_out_of_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpus([{"util": 35, "used": 1, "procs": {}, "broken": True}, {"util": 50, "used": 2, "procs": {}}]).install(
        monkeypatch
    )
    assert [d.index for d in NvmlReader().devices() or []] == [1]


def test_missing_package_means_no_gpu_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    reader = NvmlReader()
    assert reader.devices() is None and not reader.available


def test_installed_library_without_a_driver_means_no_gpu_telemetry() -> None:
    """The real pynvml on this GPU-less machine: nvmlInit fails (library not found)."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:  # pragma: no cover - only on a machine with a GPU
        pynvml.nvmlShutdown()
        pytest.skip("this machine has a working NVML")
    assert NvmlReader().devices() is None


def test_per_worker_attribution_by_process_tree() -> None:
    devices = [
        GpuDevice(0, 40.0, 5000.0, 81920.0, {100: 3000.0, 101: 500.0}),
        GpuDevice(1, 80.0, 4000.0, 81920.0, {200: 3500.0}),
        GpuDevice(2, 0.0, 0.0, 81920.0, {}),
    ]
    assert per_worker(devices, {0: {100, 101, 102}, 1: {200}, 2: {300}}) == {0: (40.0, 3500.0), 1: (80.0, 3500.0)}
    # Both ranks on one device each, or one rank spanning two devices: the mean utilisation.
    assert per_worker(devices, {0: {101, 200}}) == {0: (60.0, 4000.0)}
    # NVML cannot list processes (containers): every worker gets every device.
    hidden = [GpuDevice(0, 30.0, 100.0, 1.0, None), GpuDevice(1, 50.0, 300.0, 1.0, None)]
    assert per_worker(hidden, {0: {1}, 1: {2}}) == {0: (40.0, 400.0), 1: (40.0, 400.0)}
    assert per_worker([], {0: {1}}) == {}


@pytest.mark.slow
def test_sampler_records_gpu_metrics_for_a_real_worker_tree(
    monkeypatch: pytest.MonkeyPatch, worker: subprocess.Popen
) -> None:
    import psutil

    child = psutil.Process(worker.pid).children()[0].pid
    FakeGpus(
        [{"util": 42, "used": 6000, "procs": {child: 5120}}, {"util": 99, "used": 70000, "procs": {424242: 69000}}]
    ).install(monkeypatch)
    sampler = JobSampler()
    points = {(p.name, p.worker): p for p in sampler.sample("job-x", {0: worker.pid})}
    assert set(points) == {("cpu_percent", 0), ("memory_mb", 0), ("gpu_util", 0), ("gpu_memory_mb", 0)}
    assert points[("gpu_util", 0)].value == 42.0 and points[("gpu_memory_mb", 0)].value == 5120.0
    assert all(p.source == "system" and p.step is None for p in points.values())


@pytest.mark.slow
def test_sampler_without_gpu_records_cpu_and_memory_only(
    monkeypatch: pytest.MonkeyPatch, worker: subprocess.Popen
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    names = {p.name for p in JobSampler().sample("job-x", {0: worker.pid})}
    assert names == {"cpu_percent", "memory_mb"}
