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

from ..errors import ConflictError, ValidationError
from ..records import (
    ROLLOUT_ABORTED,
    ROLLOUT_ACTIONS,
    ROLLOUT_FAILED,
    ROLLOUT_PAUSED,
    ROLLOUT_RUNNING,
    ROLLOUT_SUCCEEDED,
    RolloutRecord,
    RolloutStep,
)
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


# -- applying a decision: every rollout transition, written once for both backends ---------------

PAUSE, RESUME, PROMOTE, ABORT = ROLLOUT_ACTIONS
ROLLBACK = "rollback"


def check_rollout_action(action: str) -> str:
    """``action`` when it is one of ``ROLLOUT_ACTIONS``; a ValidationError saying which are, otherwise."""
    if action not in ROLLOUT_ACTIONS:
        raise ValidationError(f"rollout action {action!r} is unknown", f"use one of {', '.join(ROLLOUT_ACTIONS)}")
    return action


def require_active(name: str, latest: RolloutRecord | None) -> RolloutRecord:
    """The service's active rollout; a ConflictError when there is none to steer."""
    if latest is None or not latest.active:
        state = f"the last one {latest.state}" if latest else "there is none"
        raise ConflictError(f"{name} has no active rollout ({state})", f"deploy a new version of {name}")
    return latest


def user_decision(action: str, rollout: RolloutRecord) -> RolloutDecision:
    """A person's ``pause | resume | promote | abort`` as a decision ``apply`` carries out."""
    check_rollout_action(action)
    weight = rollout.plan[rollout.step] if rollout.plan else 0.0
    if action == PROMOTE:
        weight = 100.0
    elif action == ABORT:
        weight = 0.0
    done = {PAUSE: "paused", RESUME: "resumed", PROMOTE: "promoted", ABORT: "aborted"}[action]
    return RolloutDecision(action=action, weight=weight, reason=f"{done} by the user")


def rollback_decision(version: int) -> RolloutDecision:
    """Traffic goes back to ``version``: an active rollout ends as aborted (the caller moves the traffic)."""
    return RolloutDecision(action=ROLLBACK, weight=0.0, reason=f"rolled back to v{version}")


@dataclass
class Transition:
    """What applying a decision changed: the new traffic split (None: unchanged) and the events to record.

    Events are ``(kind, message, version, data)``; ``finished`` says the rollout ended with this step.
    """

    weights: dict[int, float] | None = None
    events: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    finished: bool = False


def _finish(rollout: RolloutRecord, state: str, reason: str | None, result: str, now: float) -> None:
    if rollout.steps and rollout.steps[-1].ended_at is None:
        rollout.steps[-1].ended_at = now
        rollout.steps[-1].result = result
    rollout.state = state
    rollout.reason = reason


def apply(rollout: RolloutRecord, decision: RolloutDecision, now: float) -> Transition:
    """Carry ``decision`` out on ``rollout`` (changed in place) and say what else must change.

    The one place a rollout changes state: the local control plane's loop and the aliyun
    backend's reconcile both persist the record, set the returned weights and record the events.
    """
    old, new = rollout.from_version, rollout.to_version
    step = rollout.steps[-1] if rollout.steps else None
    out = Transition()
    action = decision.action
    if action == HOLD:
        if step is not None:
            step.figures = decision.figures
    elif action == REVERT:
        if step is not None:
            step.figures = decision.figures
        _finish(rollout, ROLLOUT_FAILED, decision.reason, "failed", now)
        out.weights = {old: 100.0, new: 0.0}
        out.events.append(("revert", decision.reason, new, dict(decision.figures)))
    elif action in (ADVANCE, COMPLETE):
        if step is not None:
            step.ended_at, step.result, step.figures = now, "passed", decision.figures
        out.events.append(("gate", decision.reason, new, dict(decision.figures)))
        if action == COMPLETE:
            at = rollout.plan[rollout.step] if rollout.plan else 100.0
            rollout.state, rollout.reason = ROLLOUT_SUCCEEDED, None
            out.weights = None if at >= 100.0 else {new: 100.0, old: 0.0}
            out.events.append(("rollout", f"rollout succeeded: 100 % on v{new}", new, {}))
        else:
            rollout.step += 1
            rollout.steps.append(RolloutStep(weight=decision.weight, started_at=now))
            out.weights = {old: 100.0 - decision.weight, new: decision.weight}
    elif action == PAUSE:
        rollout.state = ROLLOUT_PAUSED
        out.events.append(("rollout", f"rollout paused at {rollout.plan[rollout.step]:g} %", new, {}))
    elif action == RESUME:
        rollout.state = ROLLOUT_RUNNING
        if step is not None and step.ended_at is None:
            step.started_at = now  # the bake starts again: paused time is not baked time
        out.events.append(("rollout", f"rollout resumed at {rollout.plan[rollout.step]:g} %", new, {}))
    elif action == PROMOTE:
        _finish(rollout, ROLLOUT_SUCCEEDED, decision.reason, "promoted", now)
        out.weights = {new: 100.0, old: 0.0}
        out.events.append(("rollout", f"v{new} promoted to 100 %", new, {}))
    elif action == ABORT:
        _finish(rollout, ROLLOUT_ABORTED, decision.reason, "aborted", now)
        out.weights = {old: 100.0, new: 0.0}
        out.events.append(("rollout", f"rollout aborted; 100 % back on v{old}", new, {}))
    elif action == ROLLBACK:
        _finish(rollout, ROLLOUT_ABORTED, decision.reason, "aborted", now)
    else:
        raise ValueError(f"unknown rollout decision {action!r}")
    out.finished = not rollout.active
    return out
