"""``/pai/api/pipelines...``: the Pipelines panel's REST endpoints, thin over ``pai_jupyter.api.pipelines``.

- ``GET    /pai/api/pipelines``                  ``{"pipelines": [pipeline_json...]}``
- ``GET    /pai/api/pipelines/NAME?limit=20``    ``{"pipeline", "runs": [run_json...]}`` (definition + run history)
- ``POST   /pai/api/pipelines/NAME/run``         -> 201 ``{"run"}``
- ``POST   /pai/api/pipelines/NAME/(pause|resume)`` -> ``{"pipeline"}``
- ``DELETE /pai/api/pipelines/NAME``             -> ``{"deleted": NAME}``

The shapes are the control plane's (``controlplane.pipelines.routes``).
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import pipelines as client
from .base import PaiHandler


class PipelinesHandler(PaiHandler):
    """``GET /pai/api/pipelines``"""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        found = await self.call(client.pipelines, backend=self.backend())
        self.send({"pipelines": found})


class PipelineHandler(PaiHandler):
    """``GET`` / ``DELETE /pai/api/pipelines/NAME``"""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        limit = self.int_arg("limit", 20, minimum=1)
        self.send(await self.call(client.get_pipeline, name, backend=self.backend(), limit=limit))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(client.delete_pipeline, name, backend=self.backend())
        self.send({"deleted": name})


class PipelineRunHandler(PaiHandler):
    """``POST /pai/api/pipelines/NAME/run``: a manual run (queued behind a running one unless overlap is allowed)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        run = await self.call(client.run_pipeline, name, backend=self.backend())
        self.send({"run": run.data}, status=201)


class PipelineStateHandler(PaiHandler):
    """``POST /pai/api/pipelines/NAME/(pause|resume)``"""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        fn = client.pause_pipeline if action == "pause" else client.resume_pipeline
        self.send({"pipeline": await self.call(fn, name, backend=self.backend())})
