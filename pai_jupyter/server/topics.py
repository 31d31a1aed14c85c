"""Watchers behind the push channel: each polls the client API and yields only what changed.

A topic is what the sidebar subscribes to: ``jobs`` (the list), ``job:<id>``
(record, new metric points, log tail, events), ``services`` and
``service:<name>`` (record with weights and rollout, new metric windows, new
events). The first poll of a topic sends everything; later polls send the
differences, so an idle panel costs a few small local requests per tick and no
traffic to the browser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from ..api import jobs as client
from ..api import services as service_client
from ..api.common import Cadence
from ..api.jobs import public_record
from ..backends.base import Backend
from ..errors import PaiError, ValidationError
from .views import event_json, job_json, metric_json, provenance_summary, service_json

Message = dict[str, Any]

# Points are ingested in batches that may carry timestamps older than the newest
# point already seen (another worker's batch, the system sampler), so each poll
# asks again for a short overlap and drops the points it has already sent.
METRIC_OVERLAP_S = 10.0
LOG_TAIL_LINES = 40
JOB_LIST_LIMIT = 200
# The first metrics message of a job topic: every series over its whole range at this budget.
FIRST_METRICS_POINTS = 1000
# Lists are bigger and change less often than the one job or service a person looks at.
LIST_INTERVAL_S = 0.5


def error_message(topic: str | None, exc: PaiError) -> Message:
    """A PaiError as a push message; the error's class goes in ``error_type``."""
    body = exc.to_json()
    return {
        "topic": topic,
        "type": "error",
        "error": body["error"],
        "hint": body["hint"],
        "error_type": body["type"],
    }


def _fingerprint(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


class PointCursor:
    """Incremental reads of a time series whose points may arrive out of order."""

    def __init__(self, key_fields: tuple[str, ...]) -> None:
        self.key_fields = key_fields
        self.newest: float | None = None
        self._seen: dict[tuple[Any, ...], float] = {}

    @property
    def since(self) -> float | None:
        return None if self.newest is None else self.newest - METRIC_OVERLAP_S

    def fresh(self, points: Iterable[dict[str, Any]], ts_field: str = "ts") -> list[dict[str, Any]]:
        out = []
        for point in points:
            key = tuple(point.get(f) for f in self.key_fields)
            if key in self._seen:
                continue
            ts = float(point[ts_field])
            self._seen[key] = ts
            self.newest = ts if self.newest is None else max(self.newest, ts)
            out.append(point)
        if self.newest is not None:
            horizon = self.newest - 2 * METRIC_OVERLAP_S
            self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        return out


class Topic:
    """One subscription's state. ``poll()`` blocks (it calls the client API) and runs off the loop."""

    min_interval = 0.0  # seconds between reads; 0: every tick of the push loop

    def __init__(self, key: str, backend: Backend) -> None:
        self.key = key
        self.backend = backend
        self.finished = False  # nothing more can change (a job that ended and was sent in full)
        self._last: dict[str, str] = {}
        self._last_error: str | None = None
        self._read_at = float("-inf")
        self.reconcile = Cadence(backend)  # a watched job or rollout advances through these calls

    def due(self, now: float) -> bool:
        return not self.finished and now - self._read_at >= self.min_interval

    def changed(self, part: str, data: Any) -> bool:
        fingerprint = _fingerprint(data)
        if self._last.get(part) == fingerprint:
            return False
        self._last[part] = fingerprint
        return True

    def poll(self) -> list[Message]:
        self._read_at = time.monotonic()
        try:
            messages = self.read()
        except PaiError as exc:
            text = str(exc)
            if text == self._last_error:
                return []
            self._last_error = text
            return [error_message(self.key, exc)]
        self._last_error = None
        return [{"topic": self.key, **m} for m in messages]

    def read(self) -> list[Message]:  # pragma: no cover - abstract
        raise NotImplementedError


class JobsTopic(Topic):
    min_interval = LIST_INTERVAL_S

    def read(self) -> list[Message]:
        """The first page of the history (as ``GET /jobs``), with the total and the next cursor."""
        page = client.job_page(limit=JOB_LIST_LIMIT, backend=self.backend)
        data = {"jobs": [public_record(r) for r in page.jobs], "total": page.total, "next": page.next}
        return [{"type": "jobs", **data}] if self.changed("jobs", data) else []


class JobTopic(Topic):
    def __init__(self, key: str, backend: Backend, job_id: str) -> None:
        super().__init__(key, backend)
        self.job_id = job_id
        self.metrics = PointCursor(("name", "worker", "step", "ts", "source"))
        self._terminal_polls = 0

    def read(self) -> list[Message]:
        job = client.get_job(self.job_id, backend=self.backend)
        if self.reconcile.due():
            job.reconcile()
        out: list[Message] = []
        record = job_json(job)
        if self.changed("job", record):
            message: Message = {"type": "job", "job": record}
            if "provenance" not in self._last:
                self._last["provenance"] = "sent"
                message["provenance"] = provenance_summary(job.provenance)
            out.append(message)
        out.extend(self._metrics(job))
        text = job.logs(worker=0, tail=LOG_TAIL_LINES)
        if self.changed("logs", text):
            out.append({"type": "logs", "worker": 0, "text": text})
        events = [event_json(e) for e in job.events()]
        if self.changed("events", events):
            out.append({"type": "events", "events": events})
        # After the job ends, poll once more (late metrics and log lines), then rest.
        if job.record.is_terminal:
            self._terminal_polls += 1
            self.finished = self._terminal_polls >= 2
        return out

    def _metrics(self, job: client.Job) -> list[Message]:
        """First: the whole range downsampled with the summary (``reset``); then new raw points."""
        if self.metrics.newest is None and "metrics" not in self._last:
            self._last["metrics"] = "sent"
            found = job.metric_range(points=FIRST_METRICS_POINTS)
            # Seeds the cursor: the increments start after these (every series' last point is among them).
            points = self.metrics.fresh(metric_json(p) for p in found.points)
            return [{"type": "metrics", "points": points, "summary": found.summary, "reset": True}]
        points = self.metrics.fresh(metric_json(p) for p in job.metrics(since=self.metrics.since))
        return [{"type": "metrics", "points": points}] if points else []


class ServicesTopic(Topic):
    min_interval = LIST_INTERVAL_S

    def read(self) -> list[Message]:
        records = [service_json(r) for r in service_client.services(backend=self.backend)]
        return [{"type": "services", "services": records}] if self.changed("services", records) else []


class ServiceTopic(Topic):
    def __init__(self, key: str, backend: Backend, name: str) -> None:
        super().__init__(key, backend)
        self.name = name
        self.metrics = PointCursor(("version", "ts"))
        self.events = PointCursor(("ts", "kind", "message", "version"))

    def read(self) -> list[Message]:
        service = service_client.get_service(self.name, backend=self.backend)
        if self.reconcile.due():
            service.reconcile()
        out: list[Message] = []
        record = service_json(service.record)
        if self.changed("service", record):
            out.append({"type": "service", "service": record})
        points = self.metrics.fresh(metric_json(p) for p in service.metrics(self.metrics.since))
        if points:
            out.append({"type": "metrics", "points": points})
        events = self.events.fresh(event_json(e) for e in service.events(self.events.since))
        if events:
            out.append({"type": "events", "events": events})
        return out


def make_topic(key: str, backend: Backend) -> Topic:
    """Parse a topic key sent by the browser; unknown keys are a ValidationError."""
    kind, _, arg = key.partition(":")
    if kind == "jobs" and not arg:
        return JobsTopic(key, backend)
    if kind == "services" and not arg:
        return ServicesTopic(key, backend)
    if kind == "job" and arg:
        return JobTopic(key, backend, arg)
    if kind == "service" and arg:
        return ServiceTopic(key, backend, arg)
    raise ValidationError(f"unknown push topic {key!r}", "use jobs, job:<id>, services or service:<name>")
