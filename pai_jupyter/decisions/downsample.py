"""Downsampling that keeps a curve's shape, and exact summary figures (pure, no I/O).

The method is M4 (Jugel et al., "M4: A Visualization-Oriented Time Series Data
Aggregation", VLDB 2014): the x range is cut into ``budget / 4`` equal buckets and
each bucket keeps its first, min, max and last point. Why M4 and not LTTB:

- it keeps every extreme: the global first, last, min and max are always among the
  points returned (each is the first/min/max/last of its bucket), so a chart's range
  is the true range and a loss spike is never smoothed away;
- its aggregate is *mergeable* (``Bucket.merge`` is associative), so the store keeps
  pre-aggregated buckets at a few widths, answers a 1,000,000-point range from a few
  thousand rows instead of a scan, and can compact old raw points into those buckets
  without changing any figure. LTTB picks points by comparing triangles of neighbours
  and needs every raw point at query time.

A point is ``(x, value, ts)``: ``x`` is the step for reported metrics and the time
(epoch seconds) for system metrics, which have no step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..records import MetricPoint, MetricRange

Point = tuple[float, float, float]  # (x, value, ts)

#: widths (in x units) of the pre-aggregated bucket levels the store keeps; level 0 is raw. Each level
#: is 4x the one below, so a range query reads between ``budget / 2`` and ``2 * budget`` bucket rows.
LEVEL_WIDTHS = {level: 16.0 * 4 ** (level - 1) for level in range(1, 8)}  # 16 ... 65,536
DEFAULT_BUDGET = 1000


@dataclass
class Bucket:
    """First, last, min and max point of some points, and how many they were."""

    count: int
    first: Point
    last: Point
    min: Point
    max: Point

    @classmethod
    def of(cls, point: Point) -> Bucket:
        return cls(1, point, point, point, point)

    def add(self, point: Point) -> None:
        self.merge(Bucket.of(point))

    def merge(self, other: Bucket) -> None:
        """Fold ``other`` in (associative and commutative: the order of merges does not matter)."""
        self.count += other.count
        if other.first[0] < self.first[0]:
            self.first = other.first
        if other.last[0] >= self.last[0]:
            self.last = other.last
        if other.min[1] < self.min[1]:
            self.min = other.min
        if other.max[1] > self.max[1]:
            self.max = other.max

    def points(self) -> list[Point]:
        """The distinct first/min/max/last points, in x order."""
        seen: dict[tuple[float, float], Point] = {}
        for p in (self.first, self.min, self.max, self.last):
            seen.setdefault((p[0], p[1]), p)
        return sorted(seen.values(), key=lambda p: (p[0], p[2]))


def fold(points: Iterable[Point]) -> Bucket | None:
    """One bucket over all ``points`` (None when there are none): the exact summary figures."""
    bucket: Bucket | None = None
    for p in points:
        if bucket is None:
            bucket = Bucket.of(p)
        else:
            bucket.add(p)
    return bucket


def bucket_index(x: float, width: float) -> int:
    return math.floor(x / width)


def rollup(points: Iterable[Point], width: float) -> dict[int, Bucket]:
    """Points grouped into buckets of ``width`` (the store's levels)."""
    out: dict[int, Bucket] = {}
    for p in points:
        key = bucket_index(p[0], width)
        if key in out:
            out[key].add(p)
        else:
            out[key] = Bucket.of(p)
    return out


def coarser(buckets: dict[int, Bucket], factor: int) -> dict[int, Bucket]:
    """Buckets of a level ``factor`` times wider, merged from these (widths are multiples)."""
    out: dict[int, Bucket] = {}
    for index, b in buckets.items():
        key = index // factor
        if key in out:
            out[key].merge(b)
        else:
            out[key] = Bucket(b.count, b.first, b.last, b.min, b.max)
    return out


def choose_level(start: float, end: float, budget: int) -> int:
    """The coarsest stored level with at least ``budget / 2`` buckets over ``[start, end]``: at
    least two stored buckets per M4 bucket (``budget / 4`` of them), each keeping its extremes
    at their true x; 0 (raw points) when even the finest level is too coarse for the range."""
    span = max(end - start, 1.0)
    level = 0
    for candidate, width in sorted(LEVEL_WIDTHS.items()):
        if span / width >= budget / 2:
            level = candidate
    return level


def m4(buckets: Iterable[Bucket], start: float, end: float, budget: int) -> list[Point]:
    """Merge ``buckets`` (raw points as one-point buckets, or stored buckets) into
    ``budget // 4`` equal x buckets over ``[start, end]`` and keep each one's
    first/min/max/last: at most ``budget`` points, in x order."""
    n = max(1, budget // 4)
    span = end - start
    merged: dict[int, Bucket] = {}
    for b in buckets:
        x = b.first[0]
        key = 0 if span <= 0 else min(n - 1, max(0, int((x - start) / span * n)))
        if key in merged:
            merged[key].merge(b)
        else:
            merged[key] = Bucket(b.count, b.first, b.last, b.min, b.max)
    out: list[Point] = []
    for key in sorted(merged):
        out.extend(merged[key].points())
    return out


def downsample(points: Sequence[Point], budget: int = DEFAULT_BUDGET) -> tuple[list[Point], bool]:
    """``points`` (in x order) cut to at most ``budget`` by M4; the flag says whether anything
    was left out. Used where the raw points are read anyway (the aliyun backend)."""
    if budget < 4:
        raise ValueError("a point budget must be at least 4")
    if len(points) <= budget:
        return list(points), False
    start = min(p[0] for p in points)
    end = max(p[0] for p in points)
    return m4((Bucket.of(p) for p in points), start, end, budget), True


def summary_json(bucket: Bucket, has_step: bool = True) -> dict[str, float | int | None]:
    """The contract's summary figures of one series."""

    def x(p: Point) -> float | int | None:
        return int(p[0]) if has_step else None

    return {
        "first": bucket.first[1],
        "last": bucket.last[1],
        "min": bucket.min[1],
        "max": bucket.max[1],
        "count": bucket.count,
        "first_step": x(bucket.first),
        "last_step": x(bucket.last),
        "first_ts": bucket.first[2],
        "last_ts": bucket.last[2],
    }


def range_of_points(
    points: Iterable[MetricPoint],
    names: Sequence[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    budget: int = DEFAULT_BUDGET,
) -> MetricRange:
    """A ``MetricRange`` from raw points already in memory (backends that read them whole):
    each (name, worker) series cut to ``[start, end]`` and downsampled; the summary is the
    whole series', of each name's lowest worker."""
    series: dict[tuple[str, int], list[MetricPoint]] = {}
    for p in points:
        if not names or p.name in names:
            series.setdefault((p.name, p.worker), []).append(p)
    out: list[MetricPoint] = []
    summary: dict[str, dict[str, Any]] = {}
    cut = False
    for (name, worker), items in sorted(series.items()):
        has_step = any(p.step is not None for p in items)
        source = items[0].source
        pts: list[Point] = sorted(
            ((float(p.step) if p.step is not None else p.ts, p.value, p.ts) for p in items),
            key=lambda q: (q[0], q[2]),
        )
        whole = fold(pts)
        if whole is not None and name not in summary:
            summary[name] = {**summary_json(whole, has_step), "worker": worker}
        chosen = [q for q in pts if (start is None or q[0] >= start) and (end is None or q[0] <= end)]
        kept, dropped = downsample(chosen, budget)
        cut = cut or dropped
        out.extend(MetricPoint(name, q[1], q[2], int(q[0]) if has_step else None, worker, source) for q in kept)
    return MetricRange(out, summary, cut)
