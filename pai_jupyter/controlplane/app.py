"""The control plane's HTTP API (aiohttp), token-protected.

Handlers parse, call the runner or store, and return JSON; errors become
``{"error", "hint", "type"}`` with the ``PaiError``'s status in one middleware.
Other components (serving) register their own routes on the same app through
``ControlPlane.app`` before it starts.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from .._version import __version__
from ..errors import AuthError, PaiError, ValidationError
from ..records import JobQuery, MetricRange
from ..specs.job import JobSpec
from ..storage.local import LocalStorage
from ..telemetry.advice import WINDOW
from .backup import backup_loop, take_backup
from .db import Database
from .http import json_body
from .jobs.runner import JobRunner
from .jobs.store import JobStore
from .serving.setup import setup_serving

log = logging.getLogger(__name__)
API = "/api/v1"
CONTROL_PLANE: web.AppKey[ControlPlane] = web.AppKey("control_plane")
STOP_EVENT: web.AppKey[asyncio.Event] = web.AppKey("stop_event")
COMPACT_EVERY_S = 3600.0
COMPACT_CHUNK = 20_000  # raw points deleted per transaction
STREAM_PAGE = 50_000


class ControlPlane:
    """Builds every long-lived object once; handlers receive them through it."""

    def __init__(
        self,
        home: Path,
        token: str,
        *,
        max_concurrent: int = 4,
        default_bucket: str = "pai-jupyter",
        sample_every: float = 2.0,
        advice_window: float = WINDOW,
        backup_interval: float = 3600.0,
        backup_keep: int = 5,
        metrics_retention_days: float = 30.0,
    ) -> None:
        self.home = home
        self.token = token
        self.started_at = time.time()
        self.db = Database(home / "state.sqlite")  # DamagedState: refuse to start on a damaged file
        self.backup_interval, self.backup_keep = backup_interval, backup_keep
        try:
            take_backup(self.db, backup_keep)  # whole (it passed its check): the one to go back to
        except (OSError, sqlite3.Error) as exc:  # a full disk must not keep the records offline
            log.warning("could not back up %s: %s", self.db.path, exc)
        self._backups: asyncio.Task | None = None
        self.metrics_retention_s = metrics_retention_days * 86400.0
        self._compaction: asyncio.Task | None = None
        self.storage = LocalStorage(home / "storage")
        self.jobs = JobStore(self.db)
        self.runner = JobRunner(
            self.jobs,
            self.storage,
            home,
            max_concurrent=max_concurrent,
            default_bucket=default_bucket,
            sample_every=sample_every,
            advice_window=advice_window,
        )
        self.app = web.Application(middlewares=[self._errors, self._auth], client_max_size=64 * 2**20)
        self.app[CONTROL_PLANE] = self
        self._routes()
        self.app.on_startup.append(self._on_startup)
        self.app.on_cleanup.append(self._on_cleanup)
        self.extensions: list[Any] = []
        self._setup_serving()
        self._setup_pipelines(default_bucket)

    def _setup_serving(self) -> None:
        self.extensions.append(setup_serving(self.app, self.db, self.home, self.storage))

    def _setup_pipelines(self, default_bucket: str) -> None:
        from .pipelines.engine import PipelineEngine
        from .pipelines.routes import setup_pipelines
        from .pipelines.store import PipelineStore
        from .serving.setup import MANAGER

        self.pipelines = PipelineEngine(
            PipelineStore(self.db), self.jobs, self.runner, self.app[MANAGER], self.storage, default_bucket
        )
        setup_pipelines(self.app, self.pipelines)

    async def _on_startup(self, app: web.Application) -> None:
        await self.runner.start()
        if self.backup_interval > 0:
            self._backups = asyncio.create_task(backup_loop(self.db, self.backup_interval, self.backup_keep))
        if self.metrics_retention_s > 0:
            self._compaction = asyncio.create_task(self._compact_loop())

    async def _compact_loop(self) -> None:
        """Compact the raw metric points of jobs finished longer ago than the retention, hourly."""
        metrics = self.jobs.metric_store
        while True:
            try:
                done = metrics.mark_for_compaction(self.metrics_retention_s)
                while metrics.delete_compacted(COMPACT_CHUNK):  # a chunk at a time: requests go between
                    await asyncio.sleep(0.05)
                if done:
                    log.info("compacted the raw metric points of %d finished job(s)", len(done))
            except sqlite3.Error as exc:
                log.warning("metric compaction failed: %s", exc)
            await asyncio.sleep(COMPACT_EVERY_S)

    async def _on_cleanup(self, app: web.Application) -> None:
        for task in (self._backups, self._compaction):
            if task is not None:
                task.cancel()
        await self.runner.close()
        self.db.close()

    # -- middleware -----------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        supplied = value.strip() if scheme.lower() in ("token", "bearer") else ""
        if not supplied or not hmac.compare_digest(supplied.encode(), self.token.encode()):
            raise AuthError(
                "the control plane refused the request: missing or wrong token",
                "clients read the token from the runtime file; restart with `jupyter pai server`",
            )
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except PaiError as exc:
            return web.json_response(exc.to_json(), status=exc.http_status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return web.json_response({"error": exc.reason, "hint": None, "type": "HTTPError"}, status=exc.status)
        except Exception:
            log.exception("control plane error on %s %s", request.method, request.path)
            return web.json_response(
                {
                    "error": "internal error in the control plane",
                    "hint": "see the server log",
                    "type": "InternalError",
                },
                status=500,
            )

    # -- routes ---------------------------------------------------------------
    def _routes(self) -> None:
        r = self.app.router
        r.add_get(f"{API}/health", self.health)
        r.add_post(f"{API}/shutdown", self.shutdown)
        r.add_post(f"{API}/jobs", self.submit)
        r.add_get(f"{API}/jobs", self.list_jobs)
        r.add_get(f"{API}/jobs/{{id}}", self.get_job)
        r.add_post(f"{API}/jobs/{{id}}/stop", self.stop_job)
        r.add_post(f"{API}/jobs/{{id}}/preempt", self.preempt_job)
        r.add_get(f"{API}/jobs/{{id}}/logs", self.logs)
        r.add_get(f"{API}/jobs/{{id}}/metrics", self.metrics)
        r.add_get(f"{API}/jobs/{{id}}/events", self.events)
        r.add_get(f"{API}/jobs/{{id}}/provenance", self.provenance)
        r.add_post(f"{API}/jobs/{{id}}/provenance", self.add_provenance)
        r.add_get(f"{API}/experiments", self.experiments)
        r.add_get(f"{API}/experiments/{{name}}", self.experiment_jobs)
        r.add_get(f"{API}/jobs/{{id}}/environment", self.recorded_environment)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "pid": os.getpid(),
                "version": __version__,
                "home": str(self.home),
                "uptime": time.time() - self.started_at,
                "running_jobs": self.runner.running_count(),
            }
        )

    async def shutdown(self, request: web.Request) -> web.Response:
        stop = request.app.get(STOP_EVENT)
        if stop is not None:
            asyncio.get_running_loop().call_later(0.1, stop.set)
        return web.json_response({"ok": True, "pid": os.getpid()})

    async def submit(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        try:
            spec = JobSpec.from_dict(body["spec"])
        except (KeyError, TypeError):
            raise ValidationError("the request needs a 'spec' object") from None
        after = body.get("simulate_preemption_after")
        record = self.runner.submit(
            spec,
            body.get("code_uri"),
            body.get("provenance") or {},
            python=body.get("python"),
            simulate_preemption_after=float(after) if after is not None else None,
        )
        return web.json_response({"job": record.to_dict()}, status=201)

    async def list_jobs(self, request: web.Request) -> web.Response:
        """``{"jobs", "total", "next"}``: one page of the history, filtered over every job."""
        q = request.query
        query = JobQuery(
            limit=max(1, _int(q.get("limit"), 100)),
            cursor=q.get("cursor") or None,
            page=_int(q.get("page"), 0) or None,
            q=q.get("q") or q.get("name") or None,
            state=q.get("state") or None,
            backend=q.get("backend") or None,
            framework=q.get("framework") or None,
            experiment=q.get("experiment") or None,
            since=_float(q.get("since")),
            until=_float(q.get("until")),
        )
        page = self.jobs.page(query)
        return web.json_response(
            {"jobs": [r.to_dict() for r in page.jobs], "total": page.total, "next": page.next}
        )

    async def experiments(self, request: web.Request) -> web.Response:
        return web.json_response({"experiments": self.jobs.experiments()})

    async def experiment_jobs(self, request: web.Request) -> web.Response:
        limit = _int(request.query.get("limit"), 500)
        records = self.jobs.experiment_jobs(request.match_info["name"], limit=limit)
        return web.json_response({"jobs": [r.to_dict() for r in records]})

    async def get_job(self, request: web.Request) -> web.Response:
        return web.json_response({"job": self.jobs.get(request.match_info["id"]).to_dict()})

    async def stop_job(self, request: web.Request) -> web.Response:
        return web.json_response({"job": self.runner.stop(request.match_info["id"]).to_dict()})

    async def preempt_job(self, request: web.Request) -> web.Response:
        return web.json_response({"job": self.runner.preempt(request.match_info["id"]).to_dict()})

    async def logs(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        row = self.jobs.row(job_id)
        worker = _int(request.query.get("worker"), 0)
        workers = self.jobs.get(job_id).spec.workers
        if not 0 <= worker < workers:
            raise ValidationError(f"job {job_id} has workers 0-{workers - 1}, not {worker}")
        path = Path(row["job_dir"]) / "logs" / f"worker-{worker}.log"
        offset = _int(request.query.get("offset"), 0)
        tail = request.query.get("tail")
        text, next_offset = _read_log(path, offset, _int(tail, 0) if tail else None)
        return web.json_response({"text": text, "next_offset": next_offset, "worker": worker})

    async def metrics(self, request: web.Request) -> web.Response:
        """Three reads: ``points=N`` (and ``start``/``end``): each series at a point budget with its
        summary; ``all=1``: every raw point, one page of ``STREAM_PAGE`` from row ``after``;
        otherwise the raw points since a time (the push channel's increments)."""
        q = request.query
        job_id = request.match_info["id"]
        names = [n for n in q.get("names", "").split(",") if n] or None
        if q.get("all") in ("1", "true"):
            if self.jobs.row(job_id)["metrics_compacted"]:
                points = list(self.jobs.metric_store.compacted_stream(job_id, names))
                return web.json_response({"metrics": [asdict(p) for p in points], "next": None, "compacted": True})
            page, after = self.jobs.metric_store.stream(job_id, names, _int(q.get("after"), 0), STREAM_PAGE)
            return web.json_response({"metrics": [asdict(p) for p in page], "next": after, "compacted": False})
        if q.get("points") or q.get("start") or q.get("end"):
            budget = _int(q.get("points"), 1000)
            if budget < 4:
                raise ValidationError(f"points must be at least 4, got {budget}")
            result = self.jobs.metric_range(job_id, names, _float(q.get("start")), _float(q.get("end")), budget)
            return web.json_response(MetricRange(result.points, result.summary, result.downsampled).to_dict())
        since = q.get("since")
        points = self.jobs.metrics(job_id, float(since) if since else None, names)
        return web.json_response({"metrics": [asdict(p) for p in points]})

    async def events(self, request: web.Request) -> web.Response:
        return web.json_response({"events": [asdict(e) for e in self.jobs.events(request.match_info["id"])]})

    async def provenance(self, request: web.Request) -> web.Response:
        return web.json_response({"provenance": self.jobs.provenance(request.match_info["id"])})

    async def recorded_environment(self, request: web.Request) -> web.Response:
        """What the job recorded at start (``provenance/record_env.py``); null before it has."""
        job_id = request.match_info["id"]
        self.jobs.get(job_id)  # 404 for an unknown job
        return web.json_response({"environment": self.runner.recorded_environment(job_id)})

    async def add_provenance(self, request: web.Request) -> web.Response:
        """Merge fields known only after submit (the job's code commit) into its provenance."""
        body = await json_body(request)
        return web.json_response({"provenance": self.runner.add_provenance(request.match_info["id"], body)})


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a whole number") from None


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a number") from None


def _read_log(path: Path, offset: int, tail: int | None) -> tuple[str, int]:
    if not path.exists():
        return "", 0
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if tail is not None:
            fh.seek(max(0, size - 256 * 1024))
            lines = fh.read().decode(errors="replace").splitlines(keepends=True)
            return "".join(lines[-tail:]) if tail > 0 else "", size
        fh.seek(min(offset, size))
        data = fh.read(1024 * 1024)
        return data.decode(errors="replace"), min(offset, size) + len(data)
