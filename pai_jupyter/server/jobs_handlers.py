"""``/pai/api/jobs...``: the Jobs panel's REST endpoints, thin over ``pai_jupyter.api.jobs``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import jobs as client
from ..errors import ValidationError
from ..records import JOB_STATES
from .base import PaiHandler
from .views import advice_events, event_json, job_json, metric_json, provenance_summary

_MAX_LOG_TAIL = 2000


class JobsHandler(PaiHandler):
    """``GET /pai/api/jobs?limit=&state=&name=``: newest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        state = self.get_query_argument("state", None) or None
        if state is not None and state not in JOB_STATES:
            raise ValidationError(f"unknown job state {state!r}", f"one of {', '.join(JOB_STATES)}")
        limit = self.int_arg("limit", 100, minimum=1)
        name = self.get_query_argument("name", None) or None
        jobs = await self.call(client.jobs, limit=limit, state=state, name=name, backend=self.backend())
        records = sorted((job_json(j) for j in jobs), key=lambda r: r["created_at"], reverse=True)
        self.send({"jobs": records})


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
    """``GET /pai/api/jobs/ID/metrics?since=&name=loss&name=...``"""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        since = self.float_arg("since")
        names = self.get_query_arguments("name") or None
        job = await self.call(client.get_job, job_id, backend=self.backend())
        points = await self.call(job.metrics, since=since, names=names)
        self.send({"metrics": [metric_json(p) for p in points]})


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
