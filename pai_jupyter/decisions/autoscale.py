"""The autoscaler as a pure function: observed figures in, a target instance count out.

EAS's rule (reference §3.4): ``target = ceil(current × metric / threshold)``
where the metric is QPS per instance, i.e. ``ceil(qps / qps_per_instance)``;
no change while the per-instance load is within the tolerance (10 %) of the
target; the result is clamped to ``[min, max]``. On top of that:

- scale-in waits ``scale_in_cooldown_s`` after the last scale-out or scale-in
  (EAS's ``behavior.scaleDown.stabilizationWindowSeconds``);
- scale to zero only where allowed (``scale_to_zero`` and env dev/staging),
  after ``idle_grace_s`` without requests (``behavior.onZero``);
- from zero, any queued request or traffic activates one instance (or more,
  if the load already asks for more).

The loop that applies decisions (``loops``) logs each as an event with
``ScaleDecision.numbers``, so every change can be explained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..specs.service import SCALE_TO_ZERO_ENVS, AutoscalePolicy


@dataclass(frozen=True)
class ScaleObservation:
    now: float
    qps: float  # aggregate over the instances of the version, over the last window
    current: int  # instances running (or starting)
    last_scale_out_at: float | None = None
    last_scale_in_at: float | None = None
    last_request_at: float | None = None
    queued: int = 0  # requests the gateway holds for want of an instance


@dataclass(frozen=True)
class ScaleDecision:
    target: int
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    current: int = 0

    @property
    def changed(self) -> bool:
        return self.target != self.current

    @property
    def direction(self) -> str:
        """``out``, ``in`` or ``hold``."""
        return "out" if self.target > self.current else "in" if self.target < self.current else "hold"


def zero_allowed(policy: AutoscalePolicy, env: str) -> bool:
    return policy.scale_to_zero and policy.min == 0 and env in SCALE_TO_ZERO_ENVS


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def decide_scale(policy: AutoscalePolicy, obs: ScaleObservation, env: str = "dev") -> ScaleDecision:
    """How many instances the version should have now, and why."""
    current, qps, threshold = max(0, obs.current), max(0.0, obs.qps), policy.qps_per_instance
    can_zero = zero_allowed(policy, env)
    floor = policy.min if can_zero else max(policy.min, 1)
    numbers: dict[str, Any] = {
        "qps": round(qps, 3),
        "current": current,
        "qps_per_instance": threshold,
        "min": policy.min,
        "max": policy.max,
        "queued": obs.queued,
    }

    def decide(target: int, reason: str) -> ScaleDecision:
        numbers["target"] = target
        return ScaleDecision(target=target, reason=reason, numbers=numbers, current=current)

    # -- from zero: activation --------------------------------------------------------
    if current == 0:
        if obs.queued > 0 or qps > 0:
            wanted = max(1, math.ceil(qps / threshold))
            target = min(max(wanted, floor, 1), policy.max)
            return decide(
                target,
                f"activate 0 -> {target}: {obs.queued} request(s) queued, {_fmt(qps)} QPS with no instance",
            )
        if floor > 0:
            return decide(floor, f"start 0 -> {floor}: the minimum is {floor}")
        return decide(0, "idle at zero: no requests")

    # -- the EAS rule ----------------------------------------------------------------------
    per_instance = qps / current
    ratio = per_instance / threshold
    numbers.update(per_instance_qps=round(per_instance, 3), ratio=round(ratio, 4), tolerance=policy.tolerance)
    raw = math.ceil(current * per_instance / threshold - 1e-9) if qps > 0 else 0
    numbers["desired"] = raw
    if abs(ratio - 1.0) <= policy.tolerance:
        wanted, why = (
            current,
            (
                f"{_fmt(per_instance)} QPS per instance is within {policy.tolerance:.0%} of the target {_fmt(threshold)}"
            ),
        )
    else:
        wanted = raw
        why = (
            f"{_fmt(qps)} QPS over {current} instance(s) = {_fmt(per_instance)} per instance vs target "
            f"{_fmt(threshold)}: ceil({current} × {_fmt(per_instance)} / {_fmt(threshold)}) = {raw}"
        )

    # Scale to zero is its own rule (idle grace), not the QPS rule.
    if wanted == 0 and can_zero and obs.queued == 0:
        marks = [t for t in (obs.last_request_at, obs.last_scale_out_at) if t is not None]
        idle = obs.now - max(marks) if marks else math.inf
        numbers["idle_s"] = round(idle, 3) if math.isfinite(idle) else None
        numbers["idle_grace_s"] = policy.idle_grace_s
        if idle >= policy.idle_grace_s:
            return decide(
                0,
                f"scale to zero {current} -> 0: no requests for "
                f"{'ever' if not math.isfinite(idle) else f'{idle:.0f} s'} >= idle grace {policy.idle_grace_s:.0f} s",
            )
        wanted = max(1, policy.min)
        why += f"; scale to zero waits for the idle grace ({policy.idle_grace_s - idle:.0f} s left)"

    clamped = min(max(wanted, floor, 1), policy.max)
    if clamped != wanted:
        why += f"; clamped to [{max(floor, 1)}, {policy.max}]"

    if clamped > current:
        return decide(clamped, f"scale out {current} -> {clamped}: {why}")
    if clamped < current:
        if current > policy.max:  # the policy was lowered: no cooldown for that
            return decide(clamped, f"scale in {current} -> {clamped}: above the new maximum {policy.max}")
        marks = [t for t in (obs.last_scale_out_at, obs.last_scale_in_at) if t is not None]
        since = obs.now - max(marks) if marks else math.inf
        numbers["cooldown_s"] = policy.scale_in_cooldown_s
        numbers["since_last_scale_s"] = round(since, 3) if math.isfinite(since) else None
        if since < policy.scale_in_cooldown_s:
            left = policy.scale_in_cooldown_s - since
            return decide(
                current,
                f"hold {current}: would scale in to {clamped} ({why}) but the scale-in cooldown has "
                f"{left:.0f} s left of {policy.scale_in_cooldown_s:.0f} s",
            )
        return decide(clamped, f"scale in {current} -> {clamped}: {why}")
    return decide(current, f"hold {current}: {why}")
