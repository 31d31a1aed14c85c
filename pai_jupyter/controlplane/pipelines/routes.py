"""The pipelines' REST routes on the control plane (token-protected like every route).

- ``POST   /api/v1/pipelines``                 ``{"spec": PipelineSpec.to_dict()}`` -> 201 ``{"pipeline"}`` (create or replace)
- ``GET    /api/v1/pipelines``                 ``{"pipelines": [pipeline_json...]}``
- ``GET    /api/v1/pipelines/<name>``          ``{"pipeline", "runs": [run_json..., newest first]}``
- ``DELETE /api/v1/pipelines/<name>``          stops its runs, forgets it -> ``{"deleted": name}``
- ``POST   /api/v1/pipelines/<name>/run``      ``{"trigger"?: {...}}`` -> 201 ``{"run"}`` (queued, or the queued one it joined)
- ``POST   /api/v1/pipelines/<name>/pause``    triggers stop firing -> ``{"pipeline"}``
- ``POST   /api/v1/pipelines/<name>/resume``   triggers count from now -> ``{"pipeline"}``
- ``GET    /api/v1/pipelines/<name>/runs?limit=20``  ``{"runs": [...]}``
- ``GET    /api/v1/pipeline-runs/<id>``         ``{"run"}``

pipeline_json: ``{"name", "state": "active"|"paused", "revision", "created_at", "updated_at", "spec",
"dag": {"nodes": [{"name", "kind"}], "edges": [[from, to]]}, "next_run": epoch|null, "last_run": run_json|null}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...errors import ValidationError
from ...specs.pipeline import CronTrigger, PipelineSpec
from ..http import json_body
from .engine import PipelineEngine
from .store import ACTIVE, PAUSED

API = "/api/v1/pipelines"


class PipelinesApi:
    def __init__(self, engine: PipelineEngine) -> None:
        self.engine = engine
        self.store = engine.store

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(API, self.register)
        r.add_get(API, self.list)
        r.add_get(API + "/{name}", self.get)
        r.add_delete(API + "/{name}", self.delete)
        r.add_post(API + "/{name}/run", self.run)
        r.add_post(API + "/{name}/pause", self.pause)
        r.add_post(API + "/{name}/resume", self.resume)
        r.add_get(API + "/{name}/runs", self.runs)
        r.add_get("/api/v1/pipeline-runs/{id}", self.get_run)

    def pipeline_json(self, name: str) -> dict[str, Any]:
        data = self.store.get(name)
        spec = PipelineSpec.from_dict(data["spec"])
        data["dag"] = {
            "nodes": [{"name": s.name, "kind": s.kind} for s in spec.order()],
            "edges": [[d, s.name] for s in spec.order() for d in s.dependencies()],
        }
        data["next_run"] = self._next_run(spec) if data["state"] == ACTIVE else None
        last = self.store.run_ids(name, 1)
        data["last_run"] = self.store.run_json(last[0]) if last else None
        return data

    def _next_run(self, spec: PipelineSpec) -> float | None:
        from croniter import croniter

        now = self.engine.clock()
        times = []
        for index, trigger in enumerate(spec.triggers):
            if isinstance(trigger, CronTrigger):
                state = self.store.trigger_state(spec.name, f"{index}:cron")
                times.append(croniter(trigger.schedule, state["last"] if state else now).get_next(float))
        return min(times) if times else None

    async def register(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body.get("spec"), dict):
            raise ValidationError("the request needs a 'spec' object (PipelineSpec.to_dict())")
        spec = PipelineSpec.from_dict(body["spec"]).validate()
        self.store.put(spec, self.engine.clock())
        self.engine.prime(spec)
        self.engine.wake()
        return web.json_response({"pipeline": self.pipeline_json(spec.name)}, status=201)

    async def list(self, request: web.Request) -> web.Response:
        return web.json_response({"pipelines": [self.pipeline_json(n) for n in self.store.names()]})

    async def get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        pipeline = self.pipeline_json(name)
        runs = [self.store.run_json(r) for r in self.store.run_ids(name, _limit(request))]
        return web.json_response({"pipeline": pipeline, "runs": runs})

    async def delete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.store.get(name)
        self.engine.stop_runs(name, "the pipeline was deleted")
        self.store.delete(name)
        return web.json_response({"deleted": name})

    async def run(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await json_body(request) if request.can_read_body else {}
        trigger = body.get("trigger") if isinstance(body.get("trigger"), dict) else {}
        run_id = self.engine.start_run(name, {"kind": "manual", **trigger})
        return web.json_response({"run": self.store.run_json(run_id)}, status=201)

    async def pause(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.store.set_state(name, PAUSED, self.engine.clock())
        return web.json_response({"pipeline": self.pipeline_json(name)})

    async def resume(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.store.set_state(name, ACTIVE, self.engine.clock())
        self.engine.prime(PipelineSpec.from_dict(self.store.get(name)["spec"]))
        self.engine.wake()
        return web.json_response({"pipeline": self.pipeline_json(name)})

    async def runs(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.store.get(name)
        return web.json_response(
            {"runs": [self.store.run_json(r) for r in self.store.run_ids(name, _limit(request))]}
        )

    async def get_run(self, request: web.Request) -> web.Response:
        return web.json_response({"run": self.store.run_json(request.match_info["id"])})


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "20")
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ValidationError(f"limit {text!r} is not a number from 1 to 1000")
    return int(text)


def setup_pipelines(app: web.Application, engine: PipelineEngine) -> None:
    """Register the routes; the engine's loop runs while the app does."""
    PipelinesApi(engine).routes(app)

    async def on_startup(app: web.Application) -> None:
        await engine.start()

    async def on_shutdown(app: web.Application) -> None:
        await engine.close()  # before the database closes (on_cleanup)

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
