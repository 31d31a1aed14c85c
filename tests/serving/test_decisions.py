"""The autoscaler and rollout controller, replayed over recorded traces.

A trace is a list of observations as the loops would see them (one per tick);
the replay applies each decision the way the loop does (the instance count and
last-scale times for the autoscaler; the step, weight and step start for the
rollout) so the tests exercise the decisions in sequence, not one at a time.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pai_jupyter.decisions.autoscale import ScaleDecision, ScaleObservation, decide_scale
from pai_jupyter.decisions.rollout import WindowStats, breached_gates, decide_rollout
from pai_jupyter.records import RolloutRecord, RolloutStep
from pai_jupyter.specs.service import AutoscalePolicy, RolloutPlan


# -- autoscaler -----------------------------------------------------------------------
def replay_scale(
    policy: AutoscalePolicy, trace: list[tuple[float, float, float | None, int]], env: str = "dev", start: int = 1
) -> list[ScaleDecision]:
    """trace: (now, qps, last_request_at, queued) per tick; applies each decision."""
    current, out_at, in_at = start, None, None
    decisions = []
    for now, qps, last_request, queued in trace:
        obs = ScaleObservation(now, qps, current, out_at, in_at, last_request, queued)
        d = decide_scale(policy, obs, env)
        decisions.append(d)
        if d.target > current:
            out_at = now
        elif d.target < current:
            in_at = now
        current = d.target
    return decisions


def test_eas_rule_scales_out_to_ceil_of_qps_over_target() -> None:
    policy = AutoscalePolicy(min=1, max=10, qps_per_instance=50)
    d = decide_scale(policy, ScaleObservation(now=100, qps=180, current=2, last_request_at=100))
    # ceil(2 × 90 / 50) = ceil(3.6) = 4
    assert d.target == 4 and d.direction == "out"
    assert d.numbers["per_instance_qps"] == 90 and d.numbers["desired"] == 4
    assert "ceil(2 × 90.0 / 50.0) = 4" in d.reason


def test_within_tolerance_nothing_changes() -> None:
    policy = AutoscalePolicy(min=1, max=10, qps_per_instance=50, tolerance=0.1)
    # 2 instances, 108 QPS: 54/instance is 8 % over the target -> hold
    d = decide_scale(policy, ScaleObservation(now=0, qps=108, current=2))
    assert d.target == 2 and not d.changed and "within 10%" in d.reason
    # 112 QPS: 12 % over -> ceil(112 / 50) = 3
    assert decide_scale(policy, ScaleObservation(now=0, qps=112, current=2)).target == 3


def test_clamped_to_max_and_min() -> None:
    policy = AutoscalePolicy(min=2, max=4, qps_per_instance=10)
    d = decide_scale(policy, ScaleObservation(now=0, qps=1000, current=2))
    assert d.target == 4 and "clamped to [2, 4]" in d.reason
    assert decide_scale(policy, ScaleObservation(now=0, qps=0, current=1)).target == 2  # below min


def test_policy_lowered_below_current_scales_in_without_cooldown() -> None:
    policy = AutoscalePolicy(min=1, max=2, qps_per_instance=10)
    d = decide_scale(policy, ScaleObservation(now=10, qps=100, current=5, last_scale_out_at=9))
    assert d.target == 2 and "above the new maximum" in d.reason


def test_trace_scale_out_under_load_then_in_after_cooldown() -> None:
    policy = AutoscalePolicy(min=1, max=4, qps_per_instance=20, scale_in_cooldown_s=30)
    trace = [(float(t), 5.0, float(t), 0) for t in range(0, 10)]  # light
    trace += [(float(t), 75.0, float(t), 0) for t in range(10, 20)]  # burst: ceil(75/20) = 4
    trace += [(float(t), 4.0, float(t), 0) for t in range(20, 70)]  # back to light
    decisions = replay_scale(policy, trace)
    targets = [d.target for d in decisions]
    assert targets[:10] == [1] * 10
    assert targets[10] == 4 and decisions[10].direction == "out"
    # the last scale-out was at t=10; scale-in is held until t=40
    held = [d for d in decisions[20:] if "cooldown" in d.reason]
    assert held and all(d.target == 4 for d in held)
    first_in = next(i for i, d in enumerate(decisions) if d.direction == "in")
    assert trace[first_in][0] == 40.0
    assert decisions[first_in].target == 1
    assert targets[-1] == 1
    assert decisions[first_in].numbers["since_last_scale_s"] == 30.0


def test_trace_scale_to_zero_after_idle_grace_and_activation() -> None:
    policy = AutoscalePolicy(min=0, max=3, qps_per_instance=10, scale_to_zero=True, idle_grace_s=60)
    trace = [(0.0, 2.0, 0.0, 0), (30.0, 0.0, 0.0, 0), (59.0, 0.0, 0.0, 0), (60.0, 0.0, 0.0, 0)]
    trace += [(70.0, 0.0, 0.0, 0), (80.0, 0.0, 0.0, 3)]  # idle at zero, then 3 queued requests
    decisions = replay_scale(policy, trace, env="dev")
    assert [d.target for d in decisions] == [1, 1, 1, 0, 0, 1]
    assert "idle grace" in decisions[2].reason
    assert "scale to zero 1 -> 0" in decisions[3].reason and decisions[3].numbers["idle_s"] == 60
    assert "idle at zero" in decisions[4].reason
    assert "3 request(s) queued" in decisions[5].reason


def test_activation_asks_for_as_many_instances_as_the_load_needs() -> None:
    policy = AutoscalePolicy(min=0, max=3, qps_per_instance=10, scale_to_zero=True)
    assert decide_scale(policy, ScaleObservation(now=0, qps=25, current=0, queued=1)).target == 3


@pytest.mark.parametrize("env", ["prod"])
def test_no_scale_to_zero_in_prod_even_if_the_policy_says_so(env: str) -> None:
    policy = AutoscalePolicy(min=0, max=3, qps_per_instance=10, scale_to_zero=True, idle_grace_s=1)
    d = decide_scale(policy, ScaleObservation(now=1000, qps=0, current=1, last_request_at=0), env)
    assert d.target == 1
    d0 = decide_scale(policy, ScaleObservation(now=1000, qps=0, current=0), env)
    assert d0.target == 1 and "minimum" in d0.reason


def test_scale_to_zero_off_keeps_one() -> None:
    policy = AutoscalePolicy(min=1, max=3, qps_per_instance=10, idle_grace_s=1)
    d = decide_scale(policy, ScaleObservation(now=1000, qps=0, current=1, last_request_at=0))
    assert d.target == 1 and not d.changed


def test_queued_requests_block_scale_to_zero() -> None:
    policy = AutoscalePolicy(min=0, max=3, qps_per_instance=10, scale_to_zero=True, idle_grace_s=1)
    d = decide_scale(policy, ScaleObservation(now=1000, qps=0, current=1, last_request_at=0, queued=2))
    assert d.target == 1


# -- rollout --------------------------------------------------------------------------------
def new_rollout(plan: RolloutPlan, started: float = 0.0) -> RolloutRecord:
    return RolloutRecord(
        id="r1",
        service="digits-svc",
        from_version=1,
        to_version=2,
        plan=list(plan.steps),
        state="running",
        step=0,
        started_at=started,
        updated_at=started,
        gates=plan.gates(),
        steps=[RolloutStep(weight=plan.steps[0], started_at=started)],
    )


Tick = tuple[float, WindowStats, WindowStats]


def replay_rollout(plan: RolloutPlan, trace: list[Tick]) -> tuple[list, RolloutRecord]:
    """Apply decisions as the loop does; each tick's stats are over the current step's window."""
    rollout = new_rollout(plan)
    decisions = []
    for now, new, old in trace:
        if rollout.state != "running":
            break
        d = decide_rollout(plan, rollout, now, new, old)
        decisions.append(d)
        current = rollout.steps[-1]
        if d.action == "advance":
            current.ended_at, current.result, current.figures = now, "passed", d.figures
            rollout.steps.append(RolloutStep(weight=d.weight, started_at=now))
            rollout = replace(rollout, step=rollout.step + 1, updated_at=now)
        elif d.action in ("complete", "revert"):
            current.ended_at, current.result = now, "passed" if d.action == "complete" else "failed"
            rollout = replace(rollout, state="succeeded" if d.action == "complete" else "failed", reason=d.reason)
    return decisions, rollout


def test_rollout_holds_bakes_advances_and_completes() -> None:
    plan = RolloutPlan(steps=(10, 50, 100), bake_s=30, min_requests=50)
    # windows restart per step: emulate by computing stats from the step's start
    rollout = new_rollout(plan)
    log = []
    t = 0.0
    step_start = 0.0
    while rollout.state == "running" and t < 500:
        t += 10
        n = int((t - step_start) * 2)  # 2 requests/s on the new version
        d = decide_rollout(plan, rollout, t, WindowStats(n, 0, 40.0), WindowStats(n * 4, 1, 38.0))
        log.append((t, d.action, d.weight))
        if d.action == "advance":
            rollout.steps[-1].ended_at = t
            rollout.steps.append(RolloutStep(weight=d.weight, started_at=t))
            rollout = replace(rollout, step=rollout.step + 1)
            step_start = t
        elif d.action == "complete":
            rollout = replace(rollout, state="succeeded")
    actions = [a for _, a, _ in log]
    # baked 30 s at 10 s ticks, 50 requests at 2/s => 30 s: passes on the 3rd tick of each step
    assert log[0] == (10.0, "hold", 10.0)
    assert log[2] == (30.0, "advance", 50.0)
    assert log[5] == (60.0, "advance", 100.0)
    assert log[8] == (90.0, "complete", 100.0)
    assert actions.count("advance") == 2 and actions[-1] == "complete"
    assert rollout.state == "succeeded"


def test_hold_reason_says_what_is_missing() -> None:
    plan = RolloutPlan(bake_s=60, min_requests=100)
    d = decide_rollout(plan, new_rollout(plan), 20, WindowStats(30, 0, 10.0), WindowStats(270, 0, 10.0))
    assert d.action == "hold" and d.weight == 10
    assert "baked 20 s of 60 s" in d.reason and "30 of 100 requests on v2" in d.reason


def test_revert_on_slow_new_version_spells_out_the_figures() -> None:
    plan = RolloutPlan(bake_s=60, min_requests=100, max_p95_ratio=1.5)
    trace = [(10.0, WindowStats(60, 0, 400.0), WindowStats(540, 0, 120.0))]
    trace += [(20.0, WindowStats(120, 0, 412.0), WindowStats(1080, 0, 120.0))]
    decisions, rollout = replay_rollout(plan, trace)
    assert [d.action for d in decisions] == ["hold", "revert"]
    assert decisions[-1].weight == 0
    assert "p95 412 ms > 1.5 × v1's 120 ms" in decisions[-1].reason
    assert rollout.state == "failed" and "traffic back on v1" in (rollout.reason or "")
    assert decisions[-1].figures["new"]["p95_ms"] == 412.0 and decisions[-1].figures["old"]["p95_ms"] == 120.0


def test_revert_on_absolute_error_cap() -> None:
    plan = RolloutPlan(min_requests=100, max_error_rate=0.05)
    d = decide_rollout(plan, new_rollout(plan), 5, WindowStats(200, 20, 5.0), WindowStats(1800, 0, 5.0))
    assert d.action == "revert"
    assert "error rate 10.0 % (20/200) > cap 5.0 %" in d.reason


def test_revert_on_error_rate_relative_to_old() -> None:
    plan = RolloutPlan(min_requests=100, max_error_rate=0.5, max_error_rate_delta=0.02)
    d = decide_rollout(plan, new_rollout(plan), 5, WindowStats(200, 8, 5.0), WindowStats(1800, 18, 5.0))
    # 4 % vs 1 % + 2 %
    assert d.action == "revert" and "error rate 4.0 % > v1's 1.0 % + 2.0 %" in d.reason


def test_absolute_p95_cap() -> None:
    plan = RolloutPlan(min_requests=10, max_p95_ms=100)
    d = decide_rollout(plan, new_rollout(plan), 5, WindowStats(20, 0, 150.0), WindowStats.empty())
    assert d.action == "revert" and "p95 150 ms > cap 100 ms" in d.reason


def test_clear_failure_reverts_before_min_requests() -> None:
    """A version that fails every request is reverted at once, not after 100 requests."""
    plan = RolloutPlan(min_requests=100, max_error_rate=0.05)
    d = decide_rollout(plan, new_rollout(plan), 1, WindowStats(6, 6, 2.0), WindowStats(54, 0, 2.0))
    assert d.action == "revert" and "cap" in d.reason
    # but a few errors among few requests are not judged yet
    d = decide_rollout(plan, new_rollout(plan), 1, WindowStats(20, 2, 2.0), WindowStats(180, 0, 2.0))
    assert d.action == "hold"


def test_sub_millisecond_jitter_is_not_a_latency_breach() -> None:
    plan = RolloutPlan(min_requests=10, bake_s=0)
    assert breached_gates(plan, WindowStats(100, 0, 0.9), WindowStats(900, 0, 0.4)) == []
    d = decide_rollout(plan, new_rollout(plan), 1, WindowStats(100, 0, 0.9), WindowStats(900, 0, 0.4))
    assert d.action == "advance" and d.weight == 50


def test_last_step_has_no_old_traffic_and_uses_absolute_gates_only() -> None:
    plan = RolloutPlan(steps=(50, 100), min_requests=10, bake_s=10, max_error_rate=0.05)
    rollout = replace(new_rollout(plan), step=1, steps=[RolloutStep(50, 0, 10, "passed"), RolloutStep(100, 10)])
    d = decide_rollout(plan, rollout, 25, WindowStats(100, 1, 30.0), WindowStats.empty())
    assert d.action == "complete" and d.weight == 100
    d = decide_rollout(plan, rollout, 25, WindowStats(100, 9, 30.0), WindowStats.empty())
    assert d.action == "revert"


def test_paused_rollout_holds_whatever_the_figures() -> None:
    plan = RolloutPlan(min_requests=1, bake_s=0)
    rollout = replace(new_rollout(plan), state="paused")
    d = decide_rollout(plan, rollout, 100, WindowStats(1000, 900, 999.0), WindowStats(10, 0, 1.0))
    assert d.action == "hold" and "paused" in d.reason


def test_window_stats_error_rate() -> None:
    assert WindowStats(0, 0, None).error_rate == 0.0
    assert WindowStats(200, 5, 3.0).error_rate == 0.025
