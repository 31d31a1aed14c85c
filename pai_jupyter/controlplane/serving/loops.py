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
from typing import Any

from ...decisions.autoscale import ScaleObservation, decide_scale
from ...records import VER_CREATING, VER_FAILED, ServiceMetricPoint
from .core import ServingCore
from .envconfig import env_overrides
from .gateway import ServiceRoute, VersionRoute
from .rollouts import RolloutController

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
    def __init__(self, core: ServingCore, rollouts: RolloutController, config: LoopConfig | None = None) -> None:
        self.m = core  # the serving core (named m as before the reshape)
        self.rollouts = rollouts
        self.config = config or LoopConfig.from_env()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_prune = 0.0

    def start(self) -> None:
        c = self.config
        self._tasks = [
            asyncio.ensure_future(self._every(self.autoscale_tick, c.autoscale_interval_s, wakeable=True)),
            asyncio.ensure_future(self._every(self.rollouts.tick, c.rollout_interval_s)),
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
