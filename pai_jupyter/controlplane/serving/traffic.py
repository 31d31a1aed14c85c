"""Traffic splitting and measurement for the gateway.

``SmoothWRR`` is nginx's smooth weighted round-robin: deterministic, and over
any run of picks each key's share stays within one pick of its exact weight
share (with integer weights the sequence repeats every ``sum(weights)`` picks
with exact counts), so a 10 % step really sends 10 % of requests.

``Window`` keeps per-second buckets (count, errors, a log-scale latency
histogram) over a horizon, so QPS, p50/p95/p99 and error rate over any recent
span (the last 10 s for the autoscaler, "since this rollout step began" for the
gates) cost O(buckets) and bounded memory whatever the request rate.
Percentiles are accurate to the bin width (5 %).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

_BIN_BASE = 1.05
_BIN_MIN_MS = 0.01
_LOG_BASE = math.log(_BIN_BASE)


class SmoothWRR:
    def __init__(self, weights: dict[int, float] | None = None) -> None:
        self.weights: dict[int, float] = {}
        self._current: dict[int, float] = {}
        if weights:
            self.set(weights)

    def set(self, weights: dict[int, float]) -> None:
        new = {k: float(w) for k, w in weights.items() if w > 0}
        if new != self.weights:
            self.weights = new
            self._current = {k: 0.0 for k in new}

    def pick(self) -> int | None:
        if not self.weights:
            return None
        total = 0.0
        best, best_value = None, -math.inf
        for key, weight in self.weights.items():
            value = self._current[key] + weight
            self._current[key] = value
            total += weight
            if value > best_value:
                best, best_value = key, value
        assert best is not None
        self._current[best] -= total
        return best


def _bin(latency_ms: float) -> int:
    if latency_ms <= _BIN_MIN_MS:
        return 0
    return int(math.log(latency_ms / _BIN_MIN_MS) / _LOG_BASE) + 1


def _bin_value(index: int) -> float:
    if index == 0:
        return _BIN_MIN_MS
    low = _BIN_MIN_MS * _BIN_BASE ** (index - 1)
    return low * math.sqrt(_BIN_BASE)  # geometric middle of the bin


@dataclass
class _Bucket:
    second: int
    requests: int = 0
    errors: int = 0
    hist: dict[int, int] = field(default_factory=dict)


@dataclass
class Figures:
    """What a window saw over ``[since, until]``."""

    requests: int
    errors: int
    span_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def qps(self) -> float:
        return self.requests / self.span_s if self.span_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "qps": round(self.qps, 3),
            "error_rate": round(self.error_rate, 5),
            "p50_ms": _round(self.p50_ms),
            "p95_ms": _round(self.p95_ms),
            "p99_ms": _round(self.p99_ms),
            "span_s": round(self.span_s, 3),
        }


class Window:
    def __init__(self, horizon_s: int = 900) -> None:
        self.horizon_s = horizon_s
        self.buckets: deque[_Bucket] = deque()
        self.total_requests = 0
        self.total_errors = 0
        self.last_request_at: float | None = None

    def record(self, now: float, latency_ms: float, error: bool) -> None:
        second = int(now)
        if not self.buckets or self.buckets[-1].second != second:
            self.buckets.append(_Bucket(second))
            while self.buckets and self.buckets[0].second < second - self.horizon_s:
                self.buckets.popleft()
        bucket = self.buckets[-1]
        bucket.requests += 1
        b = _bin(latency_ms)
        bucket.hist[b] = bucket.hist.get(b, 0) + 1
        if error:
            bucket.errors += 1
            self.total_errors += 1
        self.total_requests += 1
        self.last_request_at = now

    def figures(self, since: float, until: float) -> Figures:
        """Requests that ended in seconds ``[since, until]`` (bucket resolution: whole seconds)."""
        start, end = int(since), int(until)
        requests = errors = 0
        hist: dict[int, int] = {}
        for bucket in self.buckets:
            if bucket.second < start or bucket.second > end:
                continue
            requests += bucket.requests
            errors += bucket.errors
            for k, v in bucket.hist.items():
                hist[k] = hist.get(k, 0) + v
        span = max(until - since, 1e-9)
        return Figures(requests, errors, span, *_percentiles(hist, requests, (0.5, 0.95, 0.99)))


def _percentiles(hist: dict[int, int], n: int, qs: tuple[float, ...]) -> list[float | None]:
    if n == 0:
        return [None for _ in qs]
    out: list[float | None] = []
    ordered = sorted(hist.items())
    for q in qs:
        rank = max(1, math.ceil(q * n))
        seen = 0
        for b, count in ordered:
            seen += count
            if seen >= rank:
                out.append(_bin_value(b))
                break
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
