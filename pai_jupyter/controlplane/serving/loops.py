"""The loops that observe the gateway and apply the pure decisions.

- autoscaler (every ``autoscale_interval_s``, and at once when the gateway
  queues a request for a version with no instance): per version, QPS over the
  last ``qps_window_s`` -> ``decide_scale`` -> start/stop instances; every change
  is a ``scale`` event carrying the decision's numbers;
- rollout (every ``rollout_interval_s``): per running rollout, both versions'
  figures since the current step began -> ``decide_rollout`` -> hold, advance,
  complete or revert; every step result is a ``gate`` event with its figures,
  a revert is a ``revert`` event with the reason;
- health (every ``health_interval_s``): probe instances, replace dead ones;
- snapshots (every ``snapshot_interval_s``): per-version figures into SQLite
  for ``metrics()``, the widget and the sidebar.

Intervals come from the constructor or ``PAI_SERVING_<NAME>`` environment
variables (tests use short ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...decisions.autoscale import ScaleObservation, decide_scale
from ...decisions.rollout import ADVANCE, COMPLETE, REVERT, WindowStats, decide_rollout, step_started_at
from ...records import (
    ROLLOUT_ABORTED,
    ROLLOUT_FAILED,
    ROLLOUT_RUNNING,
    ROLLOUT_SUCCEEDED,
    SVC_RUNNING,
    VER_CREATING,
    VER_FAILED,
    RolloutRecord,
    RolloutStep,
    ServiceMetricPoint,
)
from ...specs.service import RolloutPlan
from .envconfig import env_overrides

if TYPE_CHECKING:
    from .gateway import ServiceRoute, VersionRoute
    from .manager import ServingManager

log = logging.getLogger(__name__)
PINNED_IDLE_S = 60.0  # a version outside the split keeps an instance this long after its last request


@dataclass
class LoopConfig:
    autoscale_interval_s: float = 1.0
    rollout_interval_s: float = 0.25
    snapshot_interval_s: float = 5.0
    qps_window_s: float = 10.0

    @classmethod
    def from_env(cls) -> LoopConfig:
        return env_overrides(cls())


class ServingLoops:
    def __init__(self, manager: ServingManager, config: LoopConfig | None = None) -> None:
        self.m = manager
        self.config = config or LoopConfig.from_env()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_persist: dict[str, float] = {}
        self._last_prune = 0.0

    def start(self) -> None:
        c = self.config
        self._tasks = [
            asyncio.ensure_future(self._every(self.autoscale_tick, c.autoscale_interval_s, wakeable=True)),
            asyncio.ensure_future(self._every(self.rollout_tick, c.rollout_interval_s)),
            asyncio.ensure_future(self._every(self.health_tick, self.m.instance_config.health_interval_s)),
            asyncio.ensure_future(self._every(self.snapshot_tick, c.snapshot_interval_s)),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def wake(self) -> None:
        self._wake.set()

    async def _every(self, tick: Any, interval: float, wakeable: bool = False) -> None:
        while True:
            try:
                await tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("serving loop %s failed; continuing", getattr(tick, "__name__", tick))
            if wakeable:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            else:
                await asyncio.sleep(interval)

    # -- autoscaler ---------------------------------------------------------------------
    async def autoscale_tick(self) -> None:
        now = time.time()
        active = {(r.service, v) for r in self.m.store.active_rollouts() for v in (r.from_version, r.to_version)}
        for name, route in list(self.m.gateway.services.items()):
            if not self.m.store.exists(name) or self.m.lock(name).locked():
                continue  # a deploy or rollback is changing this service: it sets the counts itself
            spec = self.m.spec(name)
            rows = {v["version"]: v for v in self.m.store.version_rows(name)}
            for number, vr in list(route.versions.items()):
                row = rows.get(number)
                if row is None or row["state"] in (VER_CREATING, VER_FAILED):
                    continue
                if vr.weight > 0 or vr.pinned_only or (name, number) in active:
                    self._scale_live(name, route, vr, row, spec, now)
                else:
                    self._scale_idle(name, route, vr, now)

    def _scale_live(
        self, name: str, route: ServiceRoute, vr: VersionRoute, row: Any, spec: Any, now: float
    ) -> None:
        figures = vr.window.figures(now - self.config.qps_window_s, now)
        obs = ScaleObservation(
            now=now,
            qps=figures.qps,
            current=vr.pool.desired,
            last_scale_out_at=row["last_scale_out_at"],
            last_scale_in_at=row["last_scale_in_at"],
            last_request_at=vr.window.last_request_at,
            queued=route.queued_for(vr.version),
        )
        decision = decide_scale(spec.policy, obs, spec.env)
        if decision.target == vr.pool.desired:
            if len(vr.pool.live()) < vr.pool.desired:
                vr.pool.reconcile()  # an instance died or failed to start: replace it
            return
        numbers = dict(decision.numbers)
        numbers.update(p50_ms=figures.p50_ms, p95_ms=figures.p95_ms, window_s=self.config.qps_window_s)
        self.m.apply_scale(name, vr, decision.target, now)
        self.m.event(name, vr.version, "scale", decision.reason, numbers)

    def _scale_idle(self, name: str, route: ServiceRoute, vr: VersionRoute, now: float) -> None:
        """A version outside the traffic split: no instances unless pinned requests arrive."""
        queued = route.queued_for(vr.version)
        recent = vr.window.last_request_at is not None and now - vr.window.last_request_at < PINNED_IDLE_S
        target = 1 if (queued or recent) else 0
        if target != vr.pool.desired:
            why = (
                f"start 0 -> 1: {queued} request(s) queued for v{vr.version} outside the traffic split"
                if target
                else f"stop {vr.pool.desired} -> 0: v{vr.version} takes no traffic"
            )
            self.m.apply_scale(name, vr, target, now)
            self.m.event(name, vr.version, "scale", why, {"target": target, "queued": queued, "weight": vr.weight})

    # -- rollouts -----------------------------------------------------------------------
    def resume_rollouts(self) -> None:
        """After a restart: restart each running step's bake, or abort a rollout that cannot go on."""
        now = time.time()
        for r in self.m.store.active_rollouts():
            route = self.m.gateway.services.get(r.service)
            if route is None or r.to_version not in route.versions or r.from_version not in route.versions:
                self.m.finish_rollout(
                    r, ROLLOUT_ABORTED, "a version was missing after a control-plane restart", "aborted"
                )
                self.m.store.save_rollout(r)
                if route is not None and r.from_version in route.versions:
                    self.m.store.set_weights(r.service, {r.from_version: 100.0})
                    route.set_weights({r.from_version: 100.0})
                self.m.event(r.service, r.to_version, "rollout", f"rollout aborted on restart: {r.reason}", {})
                continue
            if r.state == ROLLOUT_RUNNING and r.steps and r.steps[-1].ended_at is None:
                r.steps[-1].started_at = now  # the gateway's windows did not survive: bake the step again
            self.m.store.save_rollout(r)
            self.m.event(
                r.service,
                r.to_version,
                "rollout",
                f"rollout resumed after a control-plane restart at step {r.step + 1}/{len(r.plan)} "
                f"({r.plan[r.step]:g} % on v{r.to_version}, {r.state}); the step bakes again",
                {"step": r.step},
            )

    async def rollout_tick(self) -> None:
        for r in self.m.store.active_rollouts():
            if r.state != ROLLOUT_RUNNING or self.m.lock(r.service).locked():
                continue  # a user action on this service is under way; look again next tick
            async with self.m.lock(r.service):
                current = self.m.store.latest_rollout(r.service)
                if current is None or current.id != r.id or current.state != ROLLOUT_RUNNING:
                    continue
                await self._rollout_step(current)

    async def _rollout_step(self, r: RolloutRecord) -> None:
        now = time.time()
        plan = RolloutPlan.from_dict({"steps": r.plan, **r.gates})
        since = step_started_at(r)
        new = self._stats(r.service, r.to_version, since, now)
        old = self._stats(r.service, r.from_version, since, now)
        decision = decide_rollout(plan, r, now, new, old)
        step = r.steps[-1] if r.steps else None
        if decision.action == REVERT:
            started = time.perf_counter()
            await self.m.apply_weights(r.service, {r.from_version: 100.0})
            restore_ms = (time.perf_counter() - started) * 1000
            if step:
                step.figures = decision.figures
            self.m.finish_rollout(r, ROLLOUT_FAILED, decision.reason, "failed")
            self.m.store.save_rollout(r)
            self.m.store.update_version(r.service, r.to_version, reason=f"rollout failed: {decision.reason}")
            self.m.store.update_service(r.service, state=SVC_RUNNING, reason=f"rollout of v{r.to_version} failed")
            self.m.event(
                r.service,
                r.to_version,
                "revert",
                decision.reason,
                {**decision.figures, "restore_ms": round(restore_ms, 3), "decided_at": now},
            )
            return
        if decision.action in (ADVANCE, COMPLETE):
            if step:
                step.ended_at, step.result, step.figures = now, "passed", decision.figures
            self.m.event(r.service, r.to_version, "gate", decision.reason, decision.figures)
            if decision.action == COMPLETE:
                r.state = ROLLOUT_SUCCEEDED
                r.reason = None
                await self.m.apply_weights(r.service, {r.to_version: 100.0})
                self.m.store.update_service(r.service, state=SVC_RUNNING, reason=None)
                self.m.event(
                    r.service, r.to_version, "rollout", f"rollout succeeded: 100 % on v{r.to_version}", {}
                )
            else:
                r.step += 1
                r.steps.append(RolloutStep(weight=decision.weight, started_at=now))
                await self.m.apply_weights(
                    r.service, {r.from_version: 100.0 - decision.weight, r.to_version: decision.weight}
                )
            self.m.store.save_rollout(r)
            return
        if step is not None:
            step.figures = decision.figures
            if now - self._last_persist.get(r.id, 0.0) >= 2.0:
                self._last_persist[r.id] = now
                self.m.store.save_rollout(r)

    def _stats(self, service: str, version: int, since: float, until: float) -> WindowStats:
        f = self.m.gateway.figures(service, version, since, until)
        return WindowStats(requests=f.requests, errors=f.errors, p95_ms=f.p95_ms)

    # -- health and snapshots -----------------------------------------------------------
    async def health_tick(self) -> None:
        pools = [v.pool for r in self.m.gateway.services.values() for v in r.versions.values()]
        await asyncio.gather(*(p.check() for p in pools), return_exceptions=True)

    async def snapshot_tick(self) -> None:
        now = time.time()
        span = self.config.snapshot_interval_s
        for name, route in list(self.m.gateway.services.items()):
            points = []
            for number, vr in route.versions.items():
                f = vr.window.figures(now - span, now)
                ready = len(vr.pool.ready())
                if not (f.requests or ready or vr.weight > 0):
                    continue
                points.append(
                    ServiceMetricPoint(
                        ts=now,
                        version=number,
                        qps=round(f.qps, 3),
                        p50_ms=f.p50_ms,
                        p95_ms=f.p95_ms,
                        error_rate=round(f.error_rate, 5),
                        requests=f.requests,
                        errors=f.errors,
                        instances=ready,
                        weight=vr.weight,
                    )
                )
            if points and self.m.store.exists(name):
                self.m.store.add_metrics(name, points)
        if now - self._last_prune >= 3600:
            self._last_prune = now
            self.m.store.prune()
