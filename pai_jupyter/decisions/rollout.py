"""The rollout controller as a pure function: the step's figures in, a decision out.

At each step of the plan the new version serves ``plan.steps[i]`` % of the
traffic. ``decide_rollout`` compares the new and the old version over the same
window (the step so far) and answers:

- ``revert``: a gate is breached: the new version's error rate is above the
  absolute cap or above the old version's plus ``max_error_rate_delta``, or its
  p95 is above ``max_p95_ms`` or above ``max_p95_ratio`` × the old p95 (and at
  least ``min_p95_delta_ms`` slower, so sub-millisecond jitter is not a breach).
  Gates are judged once the step has ``min_requests`` on the new version, or
  earlier when the errors seen already exceed what the cap allows for that
  many requests (then no future successes could save the step);
- ``hold``: the step has not baked ``bake_s`` or lacks ``min_requests``;
- ``advance``: go to the next step's weight;
- ``complete``: the last step passed (100 % on the new version).

The reason spells out the figures ("p95 412 ms > 1.5 × v1's 120 ms"); the loop
that applies decisions stores them with the step and logs them as events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..records import ROLLOUT_RUNNING, RolloutRecord
from ..specs.service import RolloutPlan

HOLD, ADVANCE, COMPLETE, REVERT = "hold", "advance", "complete", "revert"


@dataclass(frozen=True)
class WindowStats:
    requests: int
    errors: int
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def has_data(self) -> bool:
        return self.requests > 0

    @classmethod
    def empty(cls) -> WindowStats:
        return cls(0, 0, None)


@dataclass(frozen=True)
class RolloutDecision:
    action: str  # hold | advance | complete | revert
    weight: float  # percent on the new version once the decision is applied
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def step_started_at(rollout: RolloutRecord) -> float:
    """When the step now baking began (the rollout's start if no step is recorded)."""
    for step in reversed(rollout.steps):
        if step.ended_at is None:
            return step.started_at
    if rollout.steps and len(rollout.steps) > rollout.step:
        return rollout.steps[rollout.step].started_at
    return rollout.started_at


def breached_gates(
    plan: RolloutPlan, new: WindowStats, old: WindowStats, old_name: str = "the old version"
) -> list[str]:
    """Every gate the new version breaks over this window, each with its figures."""
    breaches: list[str] = []
    if new.requests:
        if new.error_rate > plan.max_error_rate:
            breaches.append(
                f"error rate {_pct(new.error_rate)} ({new.errors}/{new.requests}) > cap {_pct(plan.max_error_rate)}"
            )
        elif old.has_data and new.error_rate > old.error_rate + plan.max_error_rate_delta:
            breaches.append(
                f"error rate {_pct(new.error_rate)} > {old_name}'s {_pct(old.error_rate)} "
                f"+ {_pct(plan.max_error_rate_delta)}"
            )
    if new.p95_ms is not None:
        if plan.max_p95_ms is not None and new.p95_ms > plan.max_p95_ms:
            breaches.append(f"p95 {_ms(new.p95_ms)} > cap {_ms(plan.max_p95_ms)}")
        elif (
            old.has_data
            and old.p95_ms is not None
            and new.p95_ms > old.p95_ms * plan.max_p95_ratio
            and new.p95_ms - old.p95_ms >= plan.min_p95_delta_ms
        ):
            breaches.append(f"p95 {_ms(new.p95_ms)} > {plan.max_p95_ratio:g} × {old_name}'s {_ms(old.p95_ms)}")
    return breaches


def decide_rollout(
    plan: RolloutPlan, rollout: RolloutRecord, now: float, new: WindowStats, old: WindowStats
) -> RolloutDecision:
    """What to do with a rollout now, given both versions' figures over the step's window."""
    steps = list(plan.steps)
    index = min(max(rollout.step, 0), len(steps) - 1)
    weight = steps[index]
    baked = max(0.0, now - step_started_at(rollout))
    old_name, new_name = f"v{rollout.from_version}", f"v{rollout.to_version}"
    figures: dict[str, Any] = {
        "step": index,
        "weight": weight,
        "baked_s": round(baked, 3),
        "bake_s": plan.bake_s,
        "min_requests": plan.min_requests,
        "new": {
            "version": rollout.to_version,
            "requests": new.requests,
            "errors": new.errors,
            "error_rate": round(new.error_rate, 6),
            "p95_ms": new.p95_ms,
        },
        "old": {
            "version": rollout.from_version,
            "requests": old.requests,
            "errors": old.errors,
            "error_rate": round(old.error_rate, 6),
            "p95_ms": old.p95_ms,
        },
        "gates": plan.gates(),
    }

    def decision(action: str, to_weight: float, reason: str) -> RolloutDecision:
        figures["action"] = action
        return RolloutDecision(action=action, weight=to_weight, reason=reason, figures=figures)

    if rollout.state != ROLLOUT_RUNNING:
        return decision(HOLD, weight, f"rollout is {rollout.state}")

    enough = new.requests >= plan.min_requests
    # Errors beyond what the cap allows at min_requests: the step cannot pass.
    hopeless = new.errors > math.floor(plan.max_error_rate * max(plan.min_requests, 1))
    if enough or hopeless:
        breaches = breached_gates(plan, new, old, old_name)
        if hopeless and not enough and not breaches:
            breaches = [
                f"{new.errors} errors in {new.requests} requests already exceed the cap "
                f"{_pct(plan.max_error_rate)} of the {plan.min_requests} requests the step needs"
            ]
        if breaches:
            figures["breaches"] = breaches
            return decision(
                REVERT,
                0.0,
                f"{new_name} at {weight:g} %: " + "; ".join(breaches) + f"; traffic back on {old_name}",
            )

    if baked < plan.bake_s or not enough:
        waiting = []
        if baked < plan.bake_s:
            waiting.append(f"baked {baked:.0f} s of {plan.bake_s:.0f} s")
        if not enough:
            waiting.append(f"{new.requests} of {plan.min_requests} requests on {new_name}")
        return decision(HOLD, weight, f"step {index + 1}/{len(steps)} at {weight:g} %: " + ", ".join(waiting))

    summary = (
        f"{new_name} {new.requests} requests, error rate {_pct(new.error_rate)}"
        + (f", p95 {_ms(new.p95_ms)}" if new.p95_ms is not None else "")
        + (
            f" (vs {old_name} {_pct(old.error_rate)}"
            + (f", p95 {_ms(old.p95_ms)}" if old.p95_ms is not None else "")
            + ")"
            if old.has_data
            else ""
        )
    )
    if index + 1 >= len(steps):
        return decision(COMPLETE, 100.0, f"step {index + 1}/{len(steps)} at {weight:g} % passed: {summary}; done")
    nxt = steps[index + 1]
    return decision(
        ADVANCE,
        nxt,
        f"step {index + 1}/{len(steps)} at {weight:g} % passed after {baked:.0f} s: {summary}; -> {nxt:g} %",
    )
