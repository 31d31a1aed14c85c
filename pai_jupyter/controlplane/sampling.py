"""CPU, memory (psutil) and GPU (NVML, when present) samples per running job."""

from __future__ import annotations

import time

import psutil

from ..backends.base import MetricPoint


class JobSampler:
    """Keeps ``psutil.Process`` objects between calls: ``cpu_percent`` needs them."""

    def __init__(self) -> None:
        self._procs: dict[tuple[str, int], dict[int, psutil.Process]] = {}

    def sample(self, job_id: str, pids: dict[int, int]) -> list[MetricPoint]:
        now = time.time()
        points = []
        for rank, pid in pids.items():
            cache = self._procs.setdefault((job_id, rank), {})
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
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
        return points

    def forget(self, job_id: str) -> None:
        for key in [k for k in self._procs if k[0] == job_id]:
            del self._procs[key]
