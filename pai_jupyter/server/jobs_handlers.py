"""``/pai/api/jobs...``: the Jobs panel's REST endpoints, thin over ``pai_jupyter.api.jobs``."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import jobs as client
from ..api.jobs import public_record
from ..decisions.downsample import DEFAULT_BUDGET
from ..errors import ValidationError
from ..records import JOB_STATES, JobQuery
from .base import PaiHandler
from .views import advice_events, event_json, job_json, metric_json, provenance_summary

_MAX_LOG_TAIL = 2000
MAX_PAGE = 500


class JobsHandler(PaiHandler):
    """``GET /pai/api/jobs?limit=50&cursor=&q=&state=&backend=&framework=&experiment=&since=&until=``:
    ``{"jobs": [...newest first], "total": N, "next": cursor|null}``, searched over the whole
    history by the backend (``name=`` is an alias of ``q``). ``backend=NAME`` lists that backend's
    jobs: the filter and the choice of backend are the same thing."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        arg = self.get_query_argument
        state = arg("state", None) or None
        if state is not None and state not in JOB_STATES:
            raise ValidationError(f"unknown job state {state!r}", f"one of {', '.join(JOB_STATES)}")
        query = JobQuery(
            limit=min(self.int_arg("limit", 50, minimum=1) or 50, MAX_PAGE),
            cursor=arg("cursor", None) or None,
            page=self.int_arg("page", None, minimum=1),
            q=arg("q", None) or arg("name", None) or None,
            state=state,
            backend=arg("backend", None) or None,
            framework=arg("framework", None) or None,
            experiment=arg("experiment", None) or None,
            since=self.float_arg("since"),
            until=self.float_arg("until"),
        )
        page = await self.call(client.job_page, query, backend=self.backend())
        self.send({"jobs": [public_record(r) for r in page.jobs], "total": page.total, "next": page.next})


class JobHandler(PaiHandler):
    """``GET /pai/api/jobs/ID``: the record, its provenance summary and advice events."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = await self.call(client.get_job, job_id, backend=self.backend())
        provenance = await self.call(lambda: job.provenance)
        events = await self.call(job.events)
        environment = await self.call(job.environment)  # CONTRACTS.md: {"recorded", "installed", "differs"} | null
        self.send(
            {
                "job": job_json(job),
                "provenance": provenance_summary(provenance),
                "advice": advice_events(events),
                "environment": environment,
            }
        )


class JobMetricsHandler(PaiHandler):
    """``GET /pai/api/jobs/ID/metrics?name=loss&name=...&start=&end=&points=1000``: each series over
    the range at the point budget, ``{"metrics", "summary", "downsampled"}``; ``all=1``: every raw
    point, streamed in chunks (same shape, ``downsampled: false``); ``since=`` without ``points``:
    the raw points since a time (increments), as before."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        names = self.get_query_arguments("name") or None
        step = "a step (epoch seconds for system metrics)"
        start, end = self.float_arg("start", step, "1000"), self.float_arg("end", step, "2000")
        points = self.int_arg("points", None, minimum=4)
        since = self.float_arg("since")
        job = await self.call(client.get_job, job_id, backend=self.backend())
        if self.get_query_argument("all", "") in ("1", "true"):
            await self._stream(job, names)
            return
        if points is None and start is None and end is None and since is not None:
            found = await self.call(job.metrics, since=since, names=names)
            self.send({"metrics": [metric_json(p) for p in found]})
            return
        result = await self.call(job.metric_range, names, start, end, points or DEFAULT_BUDGET)
        self.send(result.to_dict())

    async def _stream(self, job: client.Job, names: list[str] | None) -> None:
        """Every raw point as one JSON document written in chunks: the server holds one page."""
        self.set_header("Content-Type", "application/json")
        self.write('{"metrics": [')
        pages = job.backend.training.metric_pages(job.id, names=names)
        first = True
        while True:
            page = await self.call(next, pages, None)
            if page is None:
                break
            if page:
                text = ", ".join(json.dumps(metric_json(p)) for p in page)
                self.write(text if first else ", " + text)
                first = False
                await self.flush()
        self.finish('], "summary": null, "downsampled": false}')


class JobLogsHandler(PaiHandler):
    """``GET /pai/api/jobs/ID/logs?worker=0&tail=50``: the latest lines of one worker."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        worker = self.int_arg("worker", 0) or 0
        tail = min(self.int_arg("tail", 50, minimum=1) or 50, _MAX_LOG_TAIL)
        job = await self.call(client.get_job, job_id, backend=self.backend())
        if worker >= max(1, job.spec.workers):
            raise ValidationError(
                f"job {job_id} has {job.spec.workers} worker(s); there is no worker {worker}",
                f"use worker 0..{job.spec.workers - 1}",
            )
        text = await self.call(job.logs, worker=worker, tail=tail)
        self.send({"worker": worker, "text": text})


class JobEventsHandler(PaiHandler):
    """``GET /pai/api/jobs/ID/events``"""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = await self.call(client.get_job, job_id, backend=self.backend())
        events = await self.call(job.events)
        self.send({"events": [event_json(e) for e in events]})


class JobProvenanceHandler(PaiHandler):
    """``GET /pai/api/jobs/ID/provenance``: the full record and its summary."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = await self.call(client.get_job, job_id, backend=self.backend())
        provenance = await self.call(lambda: job.provenance)
        self.send({"provenance": provenance, "summary": provenance_summary(provenance)})


class JobStopHandler(PaiHandler):
    """``POST /pai/api/jobs/ID/stop``"""

    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        job = await self.call(client.get_job, job_id, backend=self.backend())
        await self.call(job.stop)
        self.send({"job": job_json(job)})
