"""The serving manager: one per control plane; owns the store, the gateway and the instance pools.

REST handlers (``controlplane.serving_setup``) call its public coroutines;
the loops (``loops``) call ``apply_*`` to carry out the decisions of the pure
autoscaler and rollout functions. Mutations of one service are serialised by a
per-service lock; everything runs on the control plane's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..backends.serving_base import (
    ROLLOUT_ABORTED,
    ROLLOUT_ACTIONS,
    ROLLOUT_PAUSED,
    ROLLOUT_RUNNING,
    ROLLOUT_SUCCEEDED,
    SVC_RUNNING,
    VER_FAILED,
    VER_RUNNING,
    VER_STOPPED,
    RolloutRecord,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
)
from ..controlplane.db import Database
from ..errors import ConflictError, NotFoundError, ValidationError
from ..specs.service import AutoscalePolicy, ServiceSpec
from ..storage.local import LocalStorage
from .deploy import DeployMixin
from .gateway import Gateway, GatewayConfig, ServiceRoute, VersionRoute
from .instances import InstanceConfig, InstanceRegistry, StartFailed, VersionModel, VersionPool
from .procs import kill_orphan
from .store import ServingStore

log = logging.getLogger(__name__)


class ServingManager(DeployMixin):
    def __init__(
        self,
        db: Database,
        home: Path,
        storage: LocalStorage,
        gateway_config: GatewayConfig | None = None,
        instance_config: InstanceConfig | None = None,
    ) -> None:
        self.home = home
        self.storage = storage
        self.store = ServingStore(db)
        self.gateway = Gateway(gateway_config or GatewayConfig.from_env(), self.event, on_cold=self._on_cold)
        self.instance_config = instance_config or InstanceConfig.from_env()
        self.registry = InstanceRegistry(self._remember_instance, self._forget_instance)
        self.base_url = ""  # the control plane's URL, learnt from the first REST request
        self.gateway_address: tuple[str, int] | None = None  # the gateway listener's (host, port), once started
        self._locks: dict[str, asyncio.Lock] = {}
        from .loops import ServingLoops  # the loops import the manager's types

        self.loops = ServingLoops(self)

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        for row in self.store.instances():
            if kill_orphan(row["pid"], row["pid_started"]):
                log.info("killed instance pid %s left by a previous control plane", row["pid"])
            self.store.remove_instance(row["pid"])
        for name in self.store.service_names():
            try:
                self._load_service(name)
            except Exception:
                log.exception("cannot load service %s", name)
        self.loops.resume_rollouts()
        self.loops.start()

    async def close(self) -> None:
        await self.loops.close()
        pools = [v.pool for r in self.gateway.services.values() for v in r.versions.values()]
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)
        await self.gateway.close()

    def _load_service(self, name: str) -> None:
        row = self.store.service_row(name)
        spec = ServiceSpec.from_dict(_loads(row["spec"]))
        route = ServiceRoute(name, row["token"], spec.max_body_bytes)
        self.gateway.services[name] = route
        weights = {}
        for v in self.store.version_rows(name):
            if v["state"] == VER_FAILED:
                continue
            self._add_route(route, v)
            weights[v["version"]] = v["weight"]
            route.versions[v["version"]].pool.desired = v["desired_instances"]
            route.versions[v["version"]].pool.reconcile()
        route.set_weights(weights)

    def _add_route(self, route: ServiceRoute, v: Any) -> VersionRoute:
        model = VersionModel(route.name, v["version"], v["processor"], Path(v["model_path"]), v["command"])
        # Batching is a service setting: a version starts with the service's settings of the time.
        spec = self.spec(route.name)
        model.max_batch_size, model.max_batch_timeout_ms = spec.max_batch_size, spec.max_batch_timeout_ms
        pool = VersionPool(model, self.home, self.gateway.session, self.instance_config, self.event, self.registry)
        vr = VersionRoute(v["version"], v["processor"], pool, pinned_only=bool(v["pinned_only"]))
        vr.window.horizon_s = self.gateway.config.window_horizon_s
        route.versions[v["version"]] = vr
        return vr

    # -- events ---------------------------------------------------------------------
    def event(self, service: str, version: int | None, kind: str, message: str, data: dict[str, Any]) -> None:
        if not self.store.exists(service):
            return
        self.store.add_event(service, ServiceEvent(time.time(), kind, message, version or None, data))
        log.info("%s v%s %s: %s", service, version, kind, message)

    def _on_cold(self, service: str, version: int) -> None:
        self.loops.wake()

    def _remember_instance(self, inst: Any) -> None:
        import psutil

        try:
            started = psutil.Process(inst.pid).create_time()
        except psutil.Error:
            started = None
        self.store.add_instance(inst.pid, started, inst.service, inst.version, inst.port)

    def _forget_instance(self, inst: Any) -> None:
        self.store.remove_instance(inst.pid)

    # -- reads ----------------------------------------------------------------------
    def endpoint(self, name: str) -> str:
        """The gateway listener's URL for ``name``, on the host the caller reached the control plane by."""
        base = self.base_url
        if self.gateway_address is not None:
            host, port = self.gateway_address
            if base:
                host = urlsplit(base).hostname or host
            elif host in ("0.0.0.0", "::", ""):
                host = "127.0.0.1"
            base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return f"{base}/api/predict/{name}"

    def record(self, name: str) -> ServiceRecord:
        route = self.gateway.services.get(name)
        live = {n: len(v.pool.ready()) for n, v in route.versions.items()} if route else {}
        return self.store.record(name, self.endpoint(name), live)

    def records(self) -> list[ServiceRecord]:
        return [self.record(n) for n in self.store.service_names()]

    def token(self, name: str) -> str:
        return str(self.store.service_row(name)["token"])

    def spec(self, name: str) -> ServiceSpec:
        return ServiceSpec.from_dict(_loads(self.store.service_row(name)["spec"]))

    def route(self, name: str) -> ServiceRoute:
        route = self.gateway.services.get(name)
        if route is None:
            raise NotFoundError(f"no service named {name!r}", "list services with `jupyter pai services list`")
        return route

    def metrics(self, name: str, since: float | None) -> list[ServiceMetricPoint]:
        self.store.service_row(name)
        return self.store.metrics(name, since)

    def events(self, name: str, since: float | None) -> list[ServiceEvent]:
        self.store.service_row(name)
        return self.store.events(name, since)

    def lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    # -- traffic --------------------------------------------------------------------
    async def apply_weights(self, name: str, weights: dict[int, float]) -> None:
        self.store.set_weights(name, weights)
        self.route(name).set_weights(weights)

    async def rollout_action(self, name: str, action: str) -> ServiceRecord:
        if action not in ROLLOUT_ACTIONS:
            raise ValidationError(
                f"rollout action {action!r} is unknown", f"use one of {', '.join(ROLLOUT_ACTIONS)}"
            )
        async with self.lock(name):
            r = self.store.latest_rollout(name)
            if r is None or not r.active:
                state = f"the last one {r.state}" if r else "there is none"
                raise ConflictError(f"{name} has no active rollout ({state})", f"deploy a new version of {name}")
            now = time.time()
            if action == "pause":
                r.state = ROLLOUT_PAUSED
                self.event(name, r.to_version, "rollout", f"rollout paused at {r.plan[r.step]:g} %", {})
            elif action == "resume":
                r.state = ROLLOUT_RUNNING
                if r.steps and r.steps[-1].ended_at is None:
                    r.steps[-1].started_at = now  # the bake starts again: paused time is not baked time
                self.event(name, r.to_version, "rollout", f"rollout resumed at {r.plan[r.step]:g} %", {})
            elif action == "promote":
                self.finish_rollout(r, ROLLOUT_SUCCEEDED, "promoted by the user", "promoted")
                await self.apply_weights(name, {r.to_version: 100.0})
                self.event(name, r.to_version, "rollout", f"v{r.to_version} promoted to 100 %", {})
            else:
                self.finish_rollout(r, ROLLOUT_ABORTED, "aborted by the user", "aborted")
                await self.apply_weights(name, {r.from_version: 100.0})
                self.event(name, r.to_version, "rollout", f"rollout aborted; 100 % back on v{r.from_version}", {})
            self.store.save_rollout(r)
            if not r.active:
                self.store.update_service(name, state=SVC_RUNNING)
        return self.record(name)

    def finish_rollout(self, r: RolloutRecord, state: str, reason: str | None, result: str) -> None:
        now = time.time()
        if r.steps and r.steps[-1].ended_at is None:
            r.steps[-1].ended_at = now
            r.steps[-1].result = result
        r.state = state
        r.reason = reason

    async def rollback(self, name: str, version: int) -> ServiceRecord:
        async with self.lock(name):
            route = self.route(name)
            rows = {v["version"]: v for v in self.store.version_rows(name)}
            if version not in rows:
                raise NotFoundError(
                    f"{name} has no version {version}", f"versions: {', '.join(str(v) for v in sorted(rows))}"
                )
            if rows[version]["state"] == VER_FAILED or version not in route.versions:
                raise ConflictError(
                    f"v{version} of {name} failed and cannot serve", "roll back to another version"
                )
            vr = route.versions[version]
            count = max(1, self.spec(name).policy.min, vr.pool.desired)
            try:
                await self._start_version(name, vr, count)
            except StartFailed as exc:
                raise ConflictError(
                    f"v{version} cannot start: {exc}", "the serving version is unchanged"
                ) from None
            r = self.store.latest_rollout(name)
            if r is not None and r.active:
                self.finish_rollout(r, ROLLOUT_ABORTED, f"rolled back to v{version}", "aborted")
                self.store.save_rollout(r)
            vr.pinned_only = False
            self.store.update_version(name, version, pinned_only=0, reason=None)
            await self.apply_weights(name, {version: 100.0})
            self.store.update_service(name, state=SVC_RUNNING, reason=f"rolled back to v{version}")
            self.event(name, version, "rollback", f"rolled back: 100 % on v{version}", {})
        return self.record(name)

    async def set_autoscaler(self, name: str, policy_data: dict[str, Any]) -> ServiceRecord:
        async with self.lock(name):
            spec = self.spec(name)
            policy = AutoscalePolicy.from_dict(policy_data).validate(spec.env)
            instances = min(max(spec.instances, policy.min), policy.max)
            self.store.update_service(
                name, spec=spec.with_changes(autoscaler=policy, instances=instances).to_dict()
            )
            self.event(name, None, "config", "autoscaler set: " + _policy_text(policy), policy.to_dict())
        self.loops.wake()
        return self.record(name)

    async def delete(self, name: str) -> None:
        async with self.lock(name):
            self.store.service_row(name)
            await self._drop_service(name)
        self._locks.pop(name, None)

    async def _drop_service(self, name: str) -> None:
        route = self.gateway.services.pop(name, None)
        if route is not None:
            await asyncio.gather(*(v.pool.close() for v in route.versions.values()), return_exceptions=True)
        self.store.delete_service(name)

    # -- scaling (called by the autoscaler loop) --------------------------------------
    def apply_scale(self, name: str, vr: VersionRoute, target: int, now: float) -> None:
        current = vr.pool.desired
        fields: dict[str, Any] = {"desired_instances": target}
        if target > current:
            fields["last_scale_out_at"] = now
        elif target < current:
            fields["last_scale_in_at"] = now
        row_state = VER_STOPPED if target == 0 else VER_RUNNING
        fields["state"] = row_state
        self.store.update_version(name, vr.version, **fields)
        vr.pool.desired = target
        vr.pool.reconcile()


def _policy_text(p: AutoscalePolicy) -> str:
    zero = f", scale to zero after {p.idle_grace_s:g}s idle" if p.scale_to_zero else ""
    return (
        f"min {p.min}, max {p.max}, {p.qps_per_instance:g} QPS/instance, cooldown {p.scale_in_cooldown_s:g}s{zero}"
    )


def _loads(text: str) -> Any:
    import json

    return json.loads(text) if text else {}
