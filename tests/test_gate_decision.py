"""The evaluation gate's decision over candidate and serving figures (pure)."""

from __future__ import annotations

from pai_jupyter.decisions.gate import decide_gate

GATE = "accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50"


def test_better_candidate_passes_with_figures() -> None:
    d = decide_gate(GATE, {"accuracy": 0.95, "latency_p95_ms": 12}, {"accuracy": 0.90})
    assert d.passed
    assert [c.values for c in d.comparisons] == [[0.95, 0.895], [12.0, 50.0]]
    assert d.reason.startswith("passed")


def test_worse_candidate_fails_and_says_which_comparison() -> None:
    d = decide_gate(GATE, {"accuracy": 0.80, "latency_p95_ms": 12}, {"accuracy": 0.90})
    assert not d.passed
    assert [c.passed for c in d.comparisons] == [False, True]
    assert "accuracy >= serving.accuracy - 0.005 [0.8, 0.895]" in d.reason


def test_no_serving_version_passes_serving_comparisons_only() -> None:
    d = decide_gate(GATE, {"accuracy": 0.5, "latency_p95_ms": 70}, None)
    assert not d.passed  # the latency cap still applies
    assert d.comparisons[0].passed and d.comparisons[0].note == "no serving version to compare with"
    assert decide_gate(GATE, {"accuracy": 0.5, "latency_p95_ms": 7}, None).passed


def test_missing_metric_fails_with_its_name() -> None:
    d = decide_gate(GATE, {"accuracy": 0.99}, {"accuracy": 0.9})
    assert not d.passed and "the candidate reported no latency_p95_ms" in d.reason
    d = decide_gate("f1 > serving.f1 or not loss > 1", {"f1": 0.5, "loss": 0.2}, {"accuracy": 0.9})
    assert d.passed  # the or: the second comparison holds
    assert d.comparisons[0].note == "the serving version has no recorded f1"
