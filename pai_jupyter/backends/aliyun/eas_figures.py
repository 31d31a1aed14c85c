"""Where the aliyun rollout gates get their figures: the client side.

PAI-EAS's control API (2021-07-01) exposes no error counts or latencies
(those live in CloudMonitor, outside the documented API); its one traffic
figure, the per-service QPS in DescribeServiceAutoScaler ``CurrentMetrics``
(when an autoscaler is set), is recorded beside each step's figures
(``EasRollouts._eas_qps``) but cannot feed a p95 or error gate. So the gates
are fed from the client: while a rollout is active, each controller tick
sends a few *probe* predictions to each version's own endpoint (members of a
service group keep their own endpoints) and records status and latency. The
probe body is built from the service's declared signature (zeros of each
input's shape); without a signature there is nothing safe to send, and the
figures are instance-health observations instead (one observation per
version per tick: an error when the version is not Running with all its
instances), with no p95. Which source fed a step is stored in its figures.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests

from ...decisions.rollout import WindowStats

PROBES_PER_TICK = 5
PROBE_TIMEOUT = 10.0
_KEEP = 20000


@dataclass
class Sample:
    ts: float
    version: int
    latency_ms: float | None
    ok: bool


def example_input(signature: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"inputs": zeros}`` of the declared input shape(s), or None without a signature."""
    inputs = (signature or {}).get("inputs") or []
    if not inputs:
        return None

    def zeros(shape: list[Any] | None) -> Any:
        dims = [d if isinstance(d, int) and d > 0 else 1 for d in (shape or [1])]
        value: Any = 0.0
        for d in reversed(dims):
            value = [value] * d
        return value

    if len(inputs) == 1:
        return {"inputs": zeros(inputs[0].get("shape"))}
    return {"inputs": {i["name"]: zeros(i.get("shape")) for i in inputs}}


class ClientFigures:
    """Probe samples per (service, version), kept in this process."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[Sample]] = {}
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._session = requests.Session()

    def due(self, service: str, interval: float) -> bool:
        """True (and the clock restarts) when ``interval`` has passed since the last sampling."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(service, -1e9) < interval * 0.9:
                return False
            self._last[service] = now
            return True

    def add(self, service: str, sample: Sample) -> None:
        with self._lock:
            self._samples.setdefault(service, deque(maxlen=_KEEP)).append(sample)

    def probe(self, service: str, version: int, url: str, token: str, body: dict[str, Any], count: int) -> None:
        import json

        data = json.dumps(body).encode()
        headers = {"Authorization": token, "Content-Type": "application/json"}
        for _ in range(count):
            start = time.perf_counter()
            try:
                resp = self._session.post(url, data=data, headers=headers, timeout=PROBE_TIMEOUT)
                ok = resp.status_code < 400
            except requests.RequestException:
                ok = False
            self.add(service, Sample(time.time(), version, (time.perf_counter() - start) * 1000, ok))

    def observe_health(self, service: str, version: int, healthy: bool) -> None:
        self.add(service, Sample(time.time(), version, None, healthy))

    def samples(self, service: str, since: float = 0.0) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples.get(service, ()) if s.ts >= since]

    def window(self, service: str, version: int, since: float) -> WindowStats:
        chosen = [s for s in self.samples(service, since) if s.version == version]
        latencies = sorted(s.latency_ms for s in chosen if s.latency_ms is not None)
        p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else None
        return WindowStats(len(chosen), sum(1 for s in chosen if not s.ok), p95)
