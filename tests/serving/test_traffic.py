"""The gateway's weighted round-robin and latency windows, in isolation."""

from __future__ import annotations

import itertools
import random

import pytest

from pai_jupyter.controlplane.serving.traffic import SmoothWRR, Window


@pytest.mark.parametrize("weights", [{1: 90, 2: 10}, {1: 50, 2: 50}, {1: 33.3, 2: 66.7}, {1: 1, 2: 2, 3: 7}])
def test_wrr_exact_long_run_shares(weights: dict[int, float]) -> None:
    wrr = SmoothWRR(weights)
    total = sum(weights.values())
    counts = {k: 0 for k in weights}
    for n in range(1, 5001):
        counts[wrr.pick()] += 1  # type: ignore[index]
        for key, weight in weights.items():
            # Never more than one pick away from the exact share, at every point of the run.
            assert abs(counts[key] - n * weight / total) <= 1.0 + 1e-9


def test_wrr_spreads_picks_smoothly_and_reweights() -> None:
    wrr = SmoothWRR({1: 90, 2: 10})
    picks = [wrr.pick() for _ in range(100)]
    positions = [i for i, p in enumerate(picks) if p == 2]
    assert len(positions) == 10 and min(b - a for a, b in itertools.pairwise(positions)) >= 9
    wrr.set({1: 0, 2: 100})
    assert {wrr.pick() for _ in range(10)} == {2}
    wrr.set({})
    assert wrr.pick() is None


def test_window_percentiles_and_rates() -> None:
    rng = random.Random(1)
    window = Window(horizon_s=60)
    latencies = [rng.uniform(1, 100) for _ in range(10_000)]
    for i, ms in enumerate(latencies):
        window.record(1000.0 + i / 1000, ms, error=i % 50 == 0)
    f = window.figures(1000.0, 1010.0)
    exact = sorted(latencies)
    assert f.requests == 10_000 and f.errors == 200 and f.error_rate == pytest.approx(0.02)
    assert f.p50_ms == pytest.approx(exact[4999], rel=0.05)
    assert f.p95_ms == pytest.approx(exact[9499], rel=0.05)
    assert f.qps == pytest.approx(1000, rel=0.01)
    # Old buckets fall out of the horizon; spans select whole seconds.
    window.record(2000.0, 5.0, error=False)
    assert window.figures(0, 3000).requests == 1
    assert window.figures(2000, 2000.5).p50_ms == pytest.approx(5.0, rel=0.05)
