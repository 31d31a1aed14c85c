"""The serving core: the state one control plane's serving face shares, and its primitives.

It owns the store, the gateway and the instance pools, and offers what the parts built
on it need (records, routes, locks, events, traffic and scale changes). The parts are
composed in ``manager``: ``deploy.Deployer``, ``rollouts.RolloutController`` and
``loops.ServingLoops`` each hold the core; none of them imports another's module.
Mutations of one service are serialised by a per-service lock; everything runs on the
control plane's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import NotFoundError
from ...records import (
    VER_FAILED,
    VER_RUNNING,
    VER_STOPPED,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
)
from ...specs.service import ServiceSpec
from ...storage.local import LocalStorage
from ..db import Database
from .gateway import Gateway, GatewayConfig, ServiceRoute, VersionRoute
from .instances import InstanceConfig, InstanceRegistry, ProbeClient, VersionModel, VersionPool
from .procs import kill_orphan
from .store import ServingStore

log = logging.getLogger(__name__)


class ServingCore:
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
        self.probes = ProbeClient()  # health probes of every pool
        self.registry = InstanceRegistry(self._remember_instance, self._forget_instance)
        self.base_url = ""  # the control plane's URL, learnt from the first REST request
        self.gateway_address: tuple[str, int] | None = None  # the gateway listener's (host, port), once started
        self._locks: dict[str, asyncio.Lock] = {}
        self.on_cold: Callable[[], None] = lambda: None  # the loops' wake-up, set by the manager

    # -- lifecycle ------------------------------------------------------------------
    def load(self) -> None:
        """Kill instances a previous control plane left behind, and route every stored service."""
        for row in self.store.instances():
            if kill_orphan(row["pid"], row["pid_started"]):
                log.info("killed instance pid %s left by a previous control plane", row["pid"])
            self.store.remove_instance(row["pid"])
        for name in self.store.service_names():
            try:
                self._load_service(name)
            except Exception:
                log.exception("cannot load service %s", name)

    async def close(self) -> None:
        pools = [v.pool for r in self.gateway.services.values() for v in r.versions.values()]
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)
        await self.probes.close()

    def _load_service(self, name: str) -> None:
        row = self.store.service_row(name)
        spec = ServiceSpec.from_dict(_loads(row["spec"]))
        route = ServiceRoute(name, row["token"], spec.max_body_bytes)
        self.gateway.services[name] = route
        weights = {}
        for v in self.store.version_rows(name):
            if v["state"] == VER_FAILED:
                continue
            self.add_route(route, v)
            weights[v["version"]] = v["weight"]
            route.versions[v["version"]].pool.desired = v["desired_instances"]
            route.versions[v["version"]].pool.reconcile()
        route.set_weights(weights)

    def add_route(self, route: ServiceRoute, v: Any) -> VersionRoute:
        model = VersionModel(route.name, v["version"], v["processor"], Path(v["model_path"]), v["command"])
        code, model.requirements = self.store.layout(route.name, v["version"])
        model.code_path = Path(code) if code else None
        # Batching is a service setting: a version starts with the service's settings of the time.
        spec = self.spec(route.name)
        model.max_batch_size, model.max_batch_timeout_ms = spec.max_batch_size, spec.max_batch_timeout_ms
        pool = VersionPool(model, self.home, self.probes.session, self.instance_config, self.event, self.registry)
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
        self.on_cold()

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

    def forget_lock(self, name: str) -> None:
        self._locks.pop(name, None)

    # -- traffic --------------------------------------------------------------------
    async def apply_weights(self, name: str, weights: dict[int, float]) -> None:
        self.store.set_weights(name, weights)
        self.route(name).set_weights(weights)

    async def drop_service(self, name: str) -> None:
        route = self.gateway.services.pop(name, None)
        if route is not None:
            await asyncio.gather(*(v.pool.close() for v in route.versions.values()), return_exceptions=True)
        self.store.delete_service(name)

    async def start_version(self, name: str, vr: VersionRoute, count: int) -> None:
        now = time.time()
        self.store.update_version(name, vr.version, desired_instances=count, last_scale_out_at=now)
        await vr.pool.scale_to(count, wait=True)
        self.store.update_version(name, vr.version, state=VER_RUNNING if count else VER_STOPPED)

    def serving_version(self, name: str) -> Any:
        """The stored row of the version with the most traffic (outside pinned-only ones), or None."""
        live = [v for v in self.store.version_rows(name) if v["weight"] > 0 and not v["pinned_only"]]
        return max(live, key=lambda v: (v["weight"], -v["version"])) if live else None

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


def _loads(text: str) -> Any:
    import json

    return json.loads(text) if text else {}
