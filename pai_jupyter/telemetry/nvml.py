"""GPU utilisation and memory per device through NVML (``nvidia-ml-py``, module ``pynvml``).

``pynvml`` is imported on first use, and NVML is initialised once per process.
No package, no driver or no device means ``NvmlReader.devices()`` returns
``None`` for good: callers then sample CPU and memory only. A device that fails
one query is left out of that sample instead of failing all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuDevice:
    index: int
    util: float  # percent of the last sample period the GPU was busy
    memory_used_mb: float
    memory_total_mb: float
    # pid -> MB used, for processes NVML lists on the device; None when NVML cannot say
    processes: dict[int, float] | None = field(default=None)


class NvmlReader:
    """A lazily initialised NVML session; ``devices()`` is ``None`` when there is no usable GPU."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._failed = False

    def _session(self) -> Any:
        if self._nvml is not None or self._failed:
            return self._nvml
        try:
            import pynvml

            pynvml.nvmlInit()
            if pynvml.nvmlDeviceGetCount() < 1:
                raise RuntimeError("NVML sees no GPU")
        except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, driver mismatch, ...
            log.info("GPU telemetry off: %s", exc)
            self._failed = True
            return None
        self._nvml = pynvml
        return pynvml

    @property
    def available(self) -> bool:
        return self._session() is not None

    def devices(self) -> list[GpuDevice] | None:
        nvml = self._session()
        if nvml is None:
            return None
        try:
            count = nvml.nvmlDeviceGetCount()
        except Exception as exc:
            log.warning("NVML failed to count devices: %s", exc)
            return None
        devices = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception as exc:  # e.g. a GPU that fell off the bus
                log.warning("NVML failed on GPU %d: %s", index, exc)
                continue
            devices.append(
                GpuDevice(index, util, memory.used / 2**20, memory.total / 2**20, _processes(nvml, handle))
            )
        return devices

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._nvml = None


def _processes(nvml: Any, handle: Any) -> dict[int, float] | None:
    try:
        procs = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except Exception:  # not supported on this GPU/driver, or hidden by the container
        return None
    # usedGpuMemory is None where the driver cannot tell (e.g. Windows WDDM)
    return {int(p.pid): (p.usedGpuMemory or 0) / 2**20 for p in procs}


def per_worker(
    devices: Iterable[GpuDevice], worker_pids: Mapping[int, Iterable[int]]
) -> dict[int, tuple[float, float]]:
    """``{rank: (gpu_util %, gpu_memory_mb)}`` from one NVML sample.

    A worker owns the devices on which NVML lists one of its processes (its
    whole process tree, so DataLoader workers and launchers count); its
    utilisation is the mean over those devices and its memory what its
    processes hold there. Where NVML cannot list processes at all, every
    worker is given every device (one job per machine, as on a DLC node).
    """
    devices = list(devices)
    if not devices:
        return {}
    result: dict[int, tuple[float, float]] = {}
    unlisted = all(d.processes is None for d in devices)
    for rank, pids in worker_pids.items():
        pids = set(pids)
        if unlisted:
            util = sum(d.util for d in devices) / len(devices)
            result[rank] = (util, sum(d.memory_used_mb for d in devices))
            continue
        owned = [d for d in devices if d.processes and pids & d.processes.keys()]
        if not owned:
            continue
        util = sum(d.util for d in owned) / len(owned)
        memory = sum(mb for d in owned for pid, mb in (d.processes or {}).items() if pid in pids)
        result[rank] = (util, memory)
    return result
