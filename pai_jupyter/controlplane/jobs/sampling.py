"""CPU, memory (psutil) and GPU (NVML, when present) samples per running job.

Every point is a ``system`` metric of one worker: ``cpu_percent`` and
``memory_mb`` over the worker's whole process tree, and where NVML sees a GPU,
``gpu_util`` (percent) and ``gpu_memory_mb`` for the devices the tree runs on.
"""

from __future__ import annotations

import time

import psutil

from ...records import MetricPoint
from ...telemetry.nvml import NvmlReader, per_worker


class JobSampler:
    """Keeps ``psutil.Process`` objects between calls: ``cpu_percent`` needs them."""

    def __init__(self, nvml: NvmlReader | None = None) -> None:
        self._procs: dict[tuple[str, int], dict[int, psutil.Process]] = {}
        self.nvml = nvml if nvml is not None else NvmlReader()

    def sample(self, job_id: str, pids: dict[int, int]) -> list[MetricPoint]:
        now = time.time()
        points = []
        trees: dict[int, set[int]] = {}
        for rank, pid in pids.items():
            cache = self._procs.setdefault((job_id, rank), {})
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            trees[rank] = {p.pid for p in tree}
            cpu, rss = 0.0, 0
            for proc in tree:
                proc = cache.setdefault(proc.pid, proc)
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                except psutil.Error:
                    cache.pop(proc.pid, None)
            points.append(MetricPoint("cpu_percent", cpu, now, None, rank, "system"))
            points.append(MetricPoint("memory_mb", rss / 2**20, now, None, rank, "system"))
        points.extend(self._gpu_points(trees, now))
        return points

    def _gpu_points(self, trees: dict[int, set[int]], now: float) -> list[MetricPoint]:
        if not trees:
            return []
        devices = self.nvml.devices()
        if not devices:
            return []
        points = []
        for rank, (util, memory) in sorted(per_worker(devices, trees).items()):
            points.append(MetricPoint("gpu_util", util, now, None, rank, "system"))
            points.append(MetricPoint("gpu_memory_mb", memory, now, None, rank, "system"))
        return points

    def forget(self, job_id: str) -> None:
        for key in [k for k in self._procs if k[0] == job_id]:
            del self._procs[key]
