"""``/pai/api/services...``: the Endpoints panel's REST endpoints, thin over ``pai_jupyter.api.services``."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import services as service_client
from ..decisions.actions import check_service_action
from ..decisions.rollout import check_rollout_action
from ..errors import ValidationError
from .base import PaiHandler
from .views import event_json, metric_json, service_json


class _ServiceHandler(PaiHandler):
    async def service(self, name: str) -> Any:
        """The ``api.services.Service`` called ``name`` on the chosen backend."""
        return await self.call(service_client.get_service, name, backend=self.backend())


class ServicesHandler(_ServiceHandler):
    """``GET /pai/api/services?limit=50&cursor=&q=&state=``: ``{"services", "total", "next"}``, newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        arg = self.get_query_argument
        records, total, cursor = await self.call(
            service_client.service_page,
            limit=min(self.int_arg("limit", 50, minimum=1) or 50, 500),
            cursor=arg("cursor", None) or None,
            q=arg("q", None) or None,
            state=arg("state", None) or None,
            backend=self.backend(),
        )
        self.send({"services": [service_json(r) for r in records], "total": total, "next": cursor})


class ServiceHandler(_ServiceHandler):
    """``GET /pai/api/services/NAME``"""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        service = await self.service(name)
        self.send({"service": service_json(service.record)})


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
        check_service_action(service.record, action)  # one line: e.g. resume a rollout that runs
        await self.call(getattr(service, action))  # the service keeps the record the backend returned
        self.send({"service": service_json(service.record)})


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
        self.send({"service": service_json(service.record)})
