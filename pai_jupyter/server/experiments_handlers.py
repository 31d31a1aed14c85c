"""``/pai/api/experiments...``: the Compare view's REST endpoints, thin over ``pai_jupyter.api.experiments``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import experiments as client
from ..errors import ValidationError
from .base import PaiHandler


class ExperimentsHandler(PaiHandler):
    """``GET /pai/api/experiments`` -> ``{"experiments": [{"name", "runs", "last_created_at"}]}``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        items = await self.call(client.experiments, backend=self.backend())
        self.send({"experiments": items})


class ExperimentHandler(PaiHandler):
    """``GET /pai/api/experiments/NAME?metric=&sort=&maximize=&desc=`` -> ``{"name", "runs": [...],
    "metric", "maximize", "best": job id | null, "sort"}``."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        comparison = await self.call(
            client.experiment,
            name,
            metric=self.get_query_argument("metric", None) or None,
            sort=self.get_query_argument("sort", None) or None,
            maximize=self._flag("maximize"),
            descending=self._flag("desc"),
            limit=self.int_arg("limit", 500, minimum=1) or 500,
            backend=self.backend(),
        )
        self.send(comparison.to_json())

    def _flag(self, name: str) -> bool | None:
        value = self.get_query_argument(name, None)
        if value in (None, ""):
            return None
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValidationError(f"{name}={value!r} is not a boolean", f"use {name}=1 or {name}=0")
