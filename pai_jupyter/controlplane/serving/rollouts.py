"""The local rollout controller: feeds ``decide_rollout`` the gateway's figures and carries
decisions out through ``decisions.rollout.apply`` (the one place a rollout changes state).

Used by the rollout loop (``tick``), by the user's actions (``act``) and after a
control-plane restart (``resume_after_restart``).
"""

from __future__ import annotations

import time

from ...decisions.rollout import (
    ABORT,
    HOLD,
    REVERT,
    RolloutDecision,
    Transition,
    WindowStats,
    apply,
    decide_rollout,
    require_active,
    rollback_decision,
    step_started_at,
    user_decision,
)
from ...records import ROLLOUT_RUNNING, SVC_RUNNING, RolloutRecord, ServiceRecord
from ...specs.service import RolloutPlan
from .core import ServingCore

PERSIST_HOLD_S = 2.0  # a held step's figures are saved at most this often


class RolloutController:
    def __init__(self, core: ServingCore) -> None:
        self.core = core
        self._last_persist: dict[str, float] = {}

    async def carry_out(self, r: RolloutRecord, decision: RolloutDecision, now: float) -> Transition:
        """Apply ``decision`` to ``r`` and make it so: store, traffic, service state, events."""
        c = self.core
        transition = apply(r, decision, now)
        restore_ms = None
        if transition.weights is not None:
            started = time.perf_counter()
            await c.apply_weights(r.service, transition.weights)
            restore_ms = (time.perf_counter() - started) * 1000
        c.store.save_rollout(r)
        if decision.action == REVERT:
            c.store.update_version(r.service, r.to_version, reason=f"rollout failed: {decision.reason}")
            c.store.update_service(r.service, state=SVC_RUNNING, reason=f"rollout of v{r.to_version} failed")
        elif transition.finished:
            c.store.update_service(r.service, state=SVC_RUNNING, reason=None)
        for kind, message, version, data in transition.events:
            if kind == "revert":
                data = {**data, "restore_ms": round(restore_ms or 0.0, 3), "decided_at": now}
            c.event(r.service, version, kind, message, data)
        return transition

    async def act(self, name: str, action: str) -> ServiceRecord:
        """A person's pause | resume | promote | abort."""
        async with self.core.lock(name):
            r = require_active(name, self.core.store.latest_rollout(name))
            await self.carry_out(r, user_decision(action, r), time.time())
        return self.core.record(name)

    def end_for_rollback(self, name: str, version: int) -> None:
        """An active rollout ends (aborted) when a person rolls the service back."""
        r = self.core.store.latest_rollout(name)
        if r is not None and r.active:
            apply(r, rollback_decision(version), time.time())
            self.core.store.save_rollout(r)

    def resume_after_restart(self) -> None:
        """After a restart: restart each running step's bake, or abort a rollout that cannot go on."""
        c = self.core
        now = time.time()
        for r in c.store.active_rollouts():
            route = c.gateway.services.get(r.service)
            if route is None or r.to_version not in route.versions or r.from_version not in route.versions:
                apply(r, RolloutDecision(ABORT, 0.0, "a version was missing after a control-plane restart"), now)
                c.store.save_rollout(r)
                if route is not None and r.from_version in route.versions:
                    c.store.set_weights(r.service, {r.from_version: 100.0})
                    route.set_weights({r.from_version: 100.0})
                c.event(r.service, r.to_version, "rollout", f"rollout aborted on restart: {r.reason}", {})
                continue
            if r.state == ROLLOUT_RUNNING and r.steps and r.steps[-1].ended_at is None:
                r.steps[-1].started_at = now  # the gateway's windows did not survive: bake the step again
            c.store.save_rollout(r)
            c.event(
                r.service,
                r.to_version,
                "rollout",
                f"rollout resumed after a control-plane restart at step {r.step + 1}/{len(r.plan)} "
                f"({r.plan[r.step]:g} % on v{r.to_version}, {r.state}); the step bakes again",
                {"step": r.step},
            )

    async def tick(self) -> None:
        c = self.core
        for r in c.store.active_rollouts():
            if r.state != ROLLOUT_RUNNING or c.lock(r.service).locked():
                continue  # a user action on this service is under way; look again next tick
            async with c.lock(r.service):
                current = c.store.latest_rollout(r.service)
                if current is None or current.id != r.id or current.state != ROLLOUT_RUNNING:
                    continue
                await self._step(current)

    async def _step(self, r: RolloutRecord) -> None:
        now = time.time()
        plan = RolloutPlan.from_dict({"steps": r.plan, **r.gates})
        since = step_started_at(r)
        new = self._stats(r.service, r.to_version, since, now)
        old = self._stats(r.service, r.from_version, since, now)
        decision = decide_rollout(plan, r, now, new, old)
        if decision.action != HOLD:
            await self.carry_out(r, decision, now)
            return
        apply(r, decision, now)  # a held step keeps its latest figures
        if now - self._last_persist.get(r.id, 0.0) >= PERSIST_HOLD_S:
            self._last_persist[r.id] = now
            self.core.store.save_rollout(r)

    def _stats(self, service: str, version: int, since: float, until: float) -> WindowStats:
        f = self.core.gateway.figures(service, version, since, until)
        return WindowStats(requests=f.requests, errors=f.errors, p95_ms=f.p95_ms)
