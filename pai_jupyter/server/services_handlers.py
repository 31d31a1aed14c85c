"""``/pai/api/services...``: the Endpoints panel's REST endpoints, thin over ``pai_jupyter.api.services``."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import services as service_client
from ..decisions.rollout import check_rollout_action
from ..errors import ValidationError
from .base import PaiHandler
from .views import event_json, metric_json


class _ServiceHandler(PaiHandler):
    async def service(self, name: str) -> Any:
        """The ``api.services.Service`` called ``name`` on the chosen backend."""
        return await self.call(service_client.get_service, name, backend=self.backend())


class ServicesHandler(_ServiceHandler):
    """``GET /pai/api/services``"""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        records = await self.call(service_client.services, backend=self.backend())
        self.send({"services": [r.to_dict() for r in records]})


class ServiceHandler(_ServiceHandler):
    """``GET /pai/api/services/NAME``"""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        service = await self.service(name)
        self.send({"service": service.record.to_dict()})


class _ServiceSeriesHandler(_ServiceHandler):
    """``GET /pai/api/services/NAME/<key>?since=``: one of a service's time series as JSON."""

    key: str  # the response's key and the Service method that reads the series
    view: staticmethod[[Any], dict[str, Any]]  # one item as JSON

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        since = self.float_arg("since")
        service = await self.service(name)
        items = await self.call(getattr(service, self.key), since)
        self.send({self.key: [self.view(item) for item in items]})


class ServiceMetricsHandler(_ServiceSeriesHandler):
    """``GET /pai/api/services/NAME/metrics?since=``: per-version windows."""

    key = "metrics"
    view = staticmethod(metric_json)


class ServiceEventsHandler(_ServiceSeriesHandler):
    """``GET /pai/api/services/NAME/events?since=``: deploy, scale, rollout, gate and revert events."""

    key = "events"
    view = staticmethod(event_json)


class RolloutActionHandler(_ServiceHandler):
    """``POST /pai/api/services/NAME/rollout/(pause|resume|promote|abort)``"""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        check_rollout_action(action)
        service = await self.service(name)
        await self.call(getattr(service, action))  # the service keeps the record the backend returned
        self.send({"service": service.record.to_dict()})


class RollbackHandler(_ServiceHandler):
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
        service = await self.service(name)
        await self.call(service.rollback, version)
        self.send({"service": service.record.to_dict()})
