"""Hooks serving into the control plane: the token-protected REST API, and the gateway's own listener.

Endpoints (``/api/predict/<service>[@v<N>][/sub/path]``, the service's token) are served by the gateway
listener (``gateway_listener``) on the control plane's host and ``PAI_SERVING_GATEWAY_PORT`` (default: a
free port), never on the control plane's port.

Routes (all JSON; errors are ``{"error", "hint", "type"}`` with the PaiError's status):

- ``POST /api/v1/services``                         deploy: ``{"spec", "model_uri", "plan"?, "new_api_version"?, "job_id"?}``
                                                    -> 201 ``{"service"}`` (creates v1, or adds vN + a rollout)
- ``GET  /api/v1/services``                         ``{"services": [...]}``
- ``GET  /api/v1/services/<name>``                  ``{"service"}``
- ``DELETE /api/v1/services/<name>``                stops every instance, forgets the service
- ``GET  /api/v1/services/<name>/token``            ``{"token"}``
- ``POST /api/v1/services/<name>/rollout/<action>`` pause | resume | promote | abort -> ``{"service"}``
- ``POST /api/v1/services/<name>/rollback``         ``{"version": N}`` -> ``{"service"}``
- ``PUT  /api/v1/services/<name>/autoscaler``       ``{"policy": AutoscalePolicy.to_dict()}`` -> ``{"service"}``
- ``GET  /api/v1/services/<name>/metrics?since=``   ``{"metrics": [ServiceMetricPoint]}`` (snapshots)
- ``GET  /api/v1/services/<name>/events?since=``    ``{"events": [ServiceEvent]}``
- ``GET  /api/v1/services/<name>/live?span=10``     the gateway's live view (per-version window, instances, queue, auth refusals)
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from aiohttp import web

from ...config import current_config, serving_setting
from ...errors import ValidationError
from ...storage.local import LocalStorage
from ..db import Database
from ..http import json_body
from .core import ServingCore
from .gateway_listener import GatewayListener
from .manager import ServingManager

API = "/api/v1/services"
MANAGER: web.AppKey[ServingManager] = web.AppKey("serving_manager")


class ServingApi:
    def __init__(self, manager: ServingManager) -> None:
        self.m = manager

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(API, self.deploy)
        r.add_get(API, self.list)
        r.add_get(API + "/{name}", self.get)
        r.add_delete(API + "/{name}", self.delete)
        r.add_get(API + "/{name}/token", self.token)
        r.add_post(API + "/{name}/rollout/{action}", self.rollout)
        r.add_post(API + "/{name}/rollback", self.rollback)
        r.add_put(API + "/{name}/autoscaler", self.autoscaler)
        r.add_post(API + "/{name}/autoscaler", self.autoscaler)
        r.add_get(API + "/{name}/metrics", self.metrics)
        r.add_get(API + "/{name}/events", self.events)
        r.add_get(API + "/{name}/live", self.live)

    def _learn(self, request: web.Request) -> None:
        """Endpoints are shown as the caller reaches the control plane (host and port it used)."""
        self.m.core.base_url = f"{request.scheme}://{request.host}"

    def _service(self, name: str, status: int = 200) -> web.Response:
        return web.json_response({"service": self.m.record(name).to_dict()}, status=status)

    async def deploy(self, request: web.Request) -> web.Response:
        self._learn(request)
        record = await self.m.deploy(await json_body(request))
        return web.json_response({"service": record.to_dict()}, status=201)

    async def list(self, request: web.Request) -> web.Response:
        self._learn(request)
        return web.json_response({"services": [r.to_dict() for r in self.m.records()]})

    async def get(self, request: web.Request) -> web.Response:
        self._learn(request)
        return self._service(request.match_info["name"])

    async def delete(self, request: web.Request) -> web.Response:
        await self.m.delete(request.match_info["name"])
        return web.json_response({"deleted": request.match_info["name"]})

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"token": self.m.token(request.match_info["name"])})

    async def rollout(self, request: web.Request) -> web.Response:
        self._learn(request)
        record = await self.m.rollout_action(request.match_info["name"], request.match_info["action"])
        return web.json_response({"service": record.to_dict()})

    async def rollback(self, request: web.Request) -> web.Response:
        self._learn(request)
        body = await json_body(request)
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError('rollback needs {"version": N}', "N is a version number from `services show`")
        record = await self.m.rollback(request.match_info["name"], version)
        return web.json_response({"service": record.to_dict()})

    async def autoscaler(self, request: web.Request) -> web.Response:
        self._learn(request)
        body = await json_body(request)
        if not isinstance(body.get("policy"), dict):
            raise ValidationError("the request needs a 'policy' object (AutoscalePolicy.to_dict())")
        record = await self.m.set_autoscaler(request.match_info["name"], body["policy"])
        return web.json_response({"service": record.to_dict()})

    async def metrics(self, request: web.Request) -> web.Response:
        points = self.m.metrics(request.match_info["name"], _float(request.query.get("since")))
        return web.json_response({"metrics": [asdict(p) for p in points]})

    async def events(self, request: web.Request) -> web.Response:
        events = self.m.events(request.match_info["name"], _float(request.query.get("since")))
        return web.json_response({"events": [asdict(e) for e in events]})

    async def live(self, request: web.Request) -> web.Response:
        span = _float(request.query.get("span")) or 10.0
        return web.json_response({"live": self.m.live(request.match_info["name"], span)})


def setup_serving(app: web.Application, db: Database, home: Path, storage: LocalStorage) -> ServingManager:
    """Register the gateway and the services API on ``app``; start and stop with it."""
    manager = ServingManager(ServingCore(db, home, storage))
    app[MANAGER] = manager
    ServingApi(manager).routes(app)

    listener = GatewayListener(manager.core.gateway, _gateway_host(), _gateway_port())

    async def on_startup(app: web.Application) -> None:
        await manager.start()
        await listener.start()
        manager.core.gateway_address = (listener.host, listener.port)

    async def on_shutdown(app: web.Application) -> None:
        # on_shutdown runs before the control plane's on_cleanup closes the database.
        await listener.close()
        await manager.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return manager


def _gateway_host() -> str:
    found = serving_setting("gateway_host")
    return str(found[0]) if found else current_config().server_ip or "127.0.0.1"


def _gateway_port() -> int:
    found = serving_setting("gateway_port")
    if found is None:
        return 0
    value = str(found[0])
    if not value.isdigit() or int(value) > 65535:
        raise ValidationError(
            f"PAI_SERVING_GATEWAY_PORT={value!r} is not a port", "set a number 0-65535, or unset it"
        )
    return int(value)


def _float(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a number") from None
