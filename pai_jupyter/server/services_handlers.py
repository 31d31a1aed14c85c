"""``/pai/api/services...``: the Endpoints panel's REST endpoints, thin over ``pai_jupyter.service_client``."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import ValidationError
from .base import PaiHandler
from .views import event_json, metric_json

ROLLOUT_ACTIONS = ("pause", "resume", "promote", "abort")


def _service_client() -> Any:
    # Imported on use: the serving face is optional for the Jobs half of the API.
    from .. import service_client

    return service_client


class ServicesHandler(PaiHandler):
    """``GET /pai/api/services``"""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        sc = _service_client()
        records = await self.call(sc.services, backend=self.backend())
        self.send({"services": [r.to_dict() for r in records]})


class ServiceHandler(PaiHandler):
    """``GET /pai/api/services/NAME``"""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        sc = _service_client()
        service = await self.call(sc.get_service, name, backend=self.backend())
        self.send({"service": service.record.to_dict()})


class ServiceMetricsHandler(PaiHandler):
    """``GET /pai/api/services/NAME/metrics?since=``: per-version windows."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        sc = _service_client()
        since = self.float_arg("since")
        service = await self.call(sc.get_service, name, backend=self.backend())
        points = await self.call(service.metrics, since)
        self.send({"metrics": [metric_json(p) for p in points]})


class ServiceEventsHandler(PaiHandler):
    """``GET /pai/api/services/NAME/events?since=``: deploy, scale, rollout, gate and revert events."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        sc = _service_client()
        since = self.float_arg("since")
        service = await self.call(sc.get_service, name, backend=self.backend())
        events = await self.call(service.events, since)
        self.send({"events": [event_json(e) for e in events]})


class RolloutActionHandler(PaiHandler):
    """``POST /pai/api/services/NAME/rollout/(pause|resume|promote|abort)``"""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        if action not in ROLLOUT_ACTIONS:
            raise ValidationError(f"unknown rollout action {action!r}", f"one of {', '.join(ROLLOUT_ACTIONS)}")
        sc = _service_client()
        service = await self.call(sc.get_service, name, backend=self.backend())
        await self.call(getattr(service, action))  # the service keeps the record the backend returned
        self.send({"service": service.record.to_dict()})


class RollbackHandler(PaiHandler):
    """``POST /pai/api/services/NAME/rollback`` with ``{"version": N}``: all traffic to version N."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValidationError(
                "rollback needs the version to return to", 'send {"version": N} with N an earlier version number'
            )
        sc = _service_client()
        service = await self.call(sc.get_service, name, backend=self.backend())
        await self.call(service.rollback, version)
        self.send({"service": service.record.to_dict()})
