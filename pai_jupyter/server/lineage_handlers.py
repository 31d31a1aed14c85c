"""``/pai/api/.../lineage``: the sidebar's lineage sections, thin over ``pai_jupyter.api.lineage``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api.lineage import job_lineage, service_lineage
from .base import PaiHandler


class JobLineageHandler(PaiHandler):
    """``GET /pai/api/jobs/ID/lineage``: code commit and ref, environment, data fingerprints, spec."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.send({"lineage": await self.call(job_lineage, job_id, self.backend())})


class ServiceLineageHandler(PaiHandler):
    """``GET /pai/api/services/NAME/lineage?version=N`` (default: the serving version)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        version = self.int_arg("version", None, minimum=1)
        self.send({"lineage": await self.call(service_lineage, name, version, self.backend())})
