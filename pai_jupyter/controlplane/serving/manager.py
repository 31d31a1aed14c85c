"""The serving manager: one per control plane; the operations the REST API exposes.

Composed, not mixed in: ``core.ServingCore`` holds the state (store, gateway, instance
pools); ``deploy.Deployer``, ``rollouts.RolloutController`` and ``loops.ServingLoops``
each hold the core. REST handlers (``controlplane.serving.setup``) call the coroutines here.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConflictError, NotFoundError
from ...records import SVC_RUNNING, VER_FAILED, ServiceEvent, ServiceMetricPoint, ServiceRecord
from ...specs.service import AutoscalePolicy
from .core import ServingCore
from .deploy import Deployer
from .instances import StartFailed
from .loops import ServingLoops
from .rollouts import RolloutController


class ServingManager:
    def __init__(self, core: ServingCore) -> None:
        self.core = core
        self.deployer = Deployer(self.core)
        self.rollouts = RolloutController(self.core)
        self.loops = ServingLoops(self.core, self.rollouts)
        self.core.on_cold = self.loops.wake

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        self.core.load()
        self.rollouts.resume_after_restart()
        self.loops.start()

    async def close(self) -> None:
        await self.loops.close()
        await self.core.close()

    # -- reads ----------------------------------------------------------------------
    def record(self, name: str) -> ServiceRecord:
        return self.core.record(name)

    def records(self) -> list[ServiceRecord]:
        return self.core.records()

    def token(self, name: str) -> str:
        return self.core.token(name)

    def metrics(self, name: str, since: float | None) -> list[ServiceMetricPoint]:
        return self.core.metrics(name, since)

    def events(self, name: str, since: float | None) -> list[ServiceEvent]:
        return self.core.events(name, since)

    def live(self, name: str, span: float) -> dict[str, Any]:
        self.core.store.service_row(name)
        return self.core.gateway.live(name, span)

    # -- operations -----------------------------------------------------------------
    async def deploy(self, body: dict[str, Any]) -> ServiceRecord:
        return await self.deployer.deploy(body)

    async def rollout_action(self, name: str, action: str) -> ServiceRecord:
        return await self.rollouts.act(name, action)

    async def rollback(self, name: str, version: int) -> ServiceRecord:
        c = self.core
        async with c.lock(name):
            route = c.route(name)
            rows = {v["version"]: v for v in c.store.version_rows(name)}
            if version not in rows:
                raise NotFoundError(
                    f"{name} has no version {version}", f"versions: {', '.join(str(v) for v in sorted(rows))}"
                )
            if rows[version]["state"] == VER_FAILED or version not in route.versions:
                raise ConflictError(
                    f"v{version} of {name} failed and cannot serve", "roll back to another version"
                )
            vr = route.versions[version]
            count = max(1, c.spec(name).policy.min, vr.pool.desired)
            try:
                await c.start_version(name, vr, count)
            except StartFailed as exc:
                raise ConflictError(
                    f"v{version} cannot start: {exc}", "the serving version is unchanged"
                ) from None
            self.rollouts.end_for_rollback(name, version)
            vr.pinned_only = False
            c.store.update_version(name, version, pinned_only=0, reason=None)
            await c.apply_weights(name, {version: 100.0})
            c.store.update_service(name, state=SVC_RUNNING, reason=f"rolled back to v{version}")
            c.event(name, version, "rollback", f"rolled back: 100 % on v{version}", {})
        return c.record(name)

    async def set_autoscaler(self, name: str, policy_data: dict[str, Any]) -> ServiceRecord:
        c = self.core
        async with c.lock(name):
            spec = c.spec(name)
            policy = AutoscalePolicy.from_dict(policy_data).validate(spec.env)
            instances = min(max(spec.instances, policy.min), policy.max)
            c.store.update_service(name, spec=spec.with_changes(autoscaler=policy, instances=instances).to_dict())
            c.event(name, None, "config", "autoscaler set: " + _policy_text(policy), policy.to_dict())
        self.loops.wake()
        return c.record(name)

    async def delete(self, name: str) -> None:
        async with self.core.lock(name):
            self.core.store.service_row(name)
            await self.core.drop_service(name)
        self.core.forget_lock(name)


def _policy_text(p: AutoscalePolicy) -> str:
    zero = f", scale to zero after {p.idle_grace_s:g}s idle" if p.scale_to_zero else ""
    return (
        f"min {p.min}, max {p.max}, {p.qps_per_instance:g} QPS/instance, cooldown {p.scale_in_cooldown_s:g}s{zero}"
    )
