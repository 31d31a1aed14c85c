"""Logs, metrics and events of DLC jobs, over every attempt of a job.

- Logs: GetPodLogs per attempt (the pod of the asked worker rank), joined
  with ``=== attempt N ===`` separators as the local backend does; offsets are
  character offsets into that text.
- Metrics: the ``report()`` stream the job appends to its run folder on OSS
  (read incrementally with ranged GETs sent with ``x-oss-range-behavior: standard``,
  so a poll with nothing new reads nothing), plus GetJobMetrics for CPU, memory and
  GPU (``dlc_jobs.SYSTEM_METRICS``; memory and GPU memory are percentages). GetJobMetrics
  is not maintained for every job kind: a failed call means "no system figures" for that
  metric, never a broken job view.
- Events: our own (submission, preemption, restart, provenance), each
  attempt's ``StatusHistory`` and GetJobEvents.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ...decisions.downsample import range_of_points
from ...errors import PaiError
from ...records import JobEvent, LogChunk, MetricPoint, MetricRange
from ...reporting import read_lines
from ...storage.uri import OssUri
from . import dlc_jobs as dj

MAX_LOG_LINES = 10000


class DlcTelemetry:
    """Mixed into ``DlcTraining``: needs ``client``, ``storage``, ``_call``, ``_resolve``, ``_get_item``."""

    client: Any
    storage: Any
    _log_cache: dict[tuple[str, int], list[str]]
    _metric_cache: dict[str, tuple[int, list[MetricPoint], tuple[float, int] | None]]

    def _call(self, what: str) -> Any:  # pragma: no cover - provided by DlcTraining
        raise NotImplementedError

    def _read(self, what: str, fn: Any) -> Any:  # pragma: no cover - provided by DlcTraining
        raise NotImplementedError

    def _resolve(self, job_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _get_item(self, dlc_id: str) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    # -- logs --------------------------------------------------------------------------------
    def _attempt_ids(self, job_id: str) -> tuple[list[str], dict[str, Any]]:
        manifest, item = self._resolve(job_id)
        if manifest is None:
            return [str(item.get("JobId"))], item
        return [a["job_id"] for a in manifest["attempts"]], item

    def _pod_lines(self, dlc_id: str, item: dict[str, Any], worker: int) -> list[str]:
        from alibabacloud_pai_dlc20201203 import models

        terminal = str(item.get("Status")) in dj.STATE_MAP and dj.STATE_MAP[str(item["Status"])] in (
            "Succeeded",
            "Failed",
            "Stopped",
        )
        key = (dlc_id, worker)
        if key in self._log_cache:
            return self._log_cache[key]
        pods = worker_pods(item)
        if worker >= len(pods):
            return []
        pod_id = str(pods[worker].get("PodId"))
        body = self._read(
            f"GetPodLogs {dlc_id}/{pod_id}",
            lambda: self.client.get_pod_logs(dlc_id, pod_id, models.GetPodLogsRequest(max_lines=MAX_LOG_LINES)),
        )
        lines = [str(line) for line in (body.body.logs or [])]
        if terminal:
            self._log_cache[key] = lines
        return lines

    def logs(self, job_id: str, worker: int = 0, offset: int = 0, tail: int | None = None) -> LogChunk:
        ids, latest = self._attempt_ids(job_id)
        parts = []
        for number, dlc_id in enumerate(ids, start=1):
            item = latest if dlc_id == latest.get("JobId") else self._get_item(dlc_id)
            lines = self._pod_lines(dlc_id, item, worker)
            if number > 1:
                parts.append(f"\n=== attempt {number} ===\n")
            parts.append("".join(line + "\n" for line in lines))
        text = "".join(parts)
        if tail is not None:
            lines = text.splitlines(keepends=True)
            return LogChunk("".join(lines[-tail:]) if tail > 0 else "", len(text), worker)
        offset = min(max(offset, 0), len(text))
        return LogChunk(text[offset:], len(text), worker)

    # -- metrics -----------------------------------------------------------------------------
    def metrics(
        self, job_id: str, since: float | None = None, names: list[str] | None = None
    ) -> list[MetricPoint]:
        manifest, item = self._resolve(job_id)
        points: list[MetricPoint] = []
        if manifest is not None:
            points += self._reported(manifest)
        points += self._system(item, since)
        if since is not None:
            points = [p for p in points if p.ts > since]
        if names:
            points = [p for p in points if p.name in names]
        return sorted(points, key=lambda p: (p.ts, p.worker, p.name))

    def metric_range(
        self,
        job_id: str,
        names: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        points: int = 1000,
    ) -> MetricRange:
        """DLC keeps no metric store we could query by range: the report() stream is JSON lines on
        OSS and system figures come from GetJobMetrics. So every point is read (new bytes only:
        ``_tail_metrics`` caches what it read before), then cut to the range and downsampled here,
        before anything goes to a browser or a notebook."""
        return range_of_points(self.metrics(job_id, names=names), names, start, end, points)

    def metric_pages(self, job_id: str, names: list[str] | None = None) -> Iterator[list[MetricPoint]]:
        """Every raw point, in pages of 50,000 (read whole from OSS first: see ``metric_range``)."""
        found = self.metrics(job_id, names=names)
        for lo in range(0, len(found), 50_000):
            yield found[lo : lo + 50_000]

    def _reported(self, manifest: dict[str, Any]) -> list[MetricPoint]:
        """The report() stream: JSON lines the job appends to <run>/metrics/worker-R.A.jsonl."""
        folder = OssUri.parse(manifest["outputs"]["metrics"])
        out: list[MetricPoint] = []
        for info in self.storage.list(folder):
            if info.is_dir or not info.uri.endswith(".jsonl"):
                continue
            stem = info.uri.rsplit("/", 1)[-1][: -len(".jsonl")]  # worker-R.A
            try:
                worker = int(stem.split("-", 1)[1].split(".", 1)[0])
            except (IndexError, ValueError):
                continue
            out += self._tail_metrics(info.uri, worker)
        return out

    def _tail_metrics(self, uri: str, worker: int) -> list[MetricPoint]:
        offset, points, last = self._metric_cache.get(uri, (0, [], None))
        data = self.storage.read_range(OssUri.parse(uri), offset)  # b"" when absent or nothing new
        end = data.rfind(b"\n")
        if end >= 0:
            new, last = read_lines(data[: end + 1].splitlines(), worker, last)
            points = [*points, *new]
            offset += end + 1
            self._metric_cache[uri] = (offset, points, last)
        return list(points)

    def _system(self, item: dict[str, Any], since: float | None) -> list[MetricPoint]:
        from alibabacloud_pai_dlc20201203 import models

        created = dj.parse_time(item.get("GmtCreateTime")) or time.time() - 3600
        start = max(since or 0.0, created)
        rank_of = {str(p.get("PodId")): rank for rank, p in enumerate(worker_pods(item))}
        dlc_id = str(item.get("JobId"))
        out: list[MetricPoint] = []
        for kind, name in dj.SYSTEM_METRICS.items():
            request = models.GetJobMetricsRequest(
                metric_type=kind, start_time=dj.iso(start), end_time=dj.iso(time.time() + 60)
            )
            try:
                body = self._read(
                    f"GetJobMetrics {dlc_id} {kind}",
                    lambda request=request: self.client.get_job_metrics(dlc_id, request).body.to_map(),
                )
            except PaiError:
                continue  # this figure is unavailable for the job kind (or now): show the others
            for pod in body.get("PodMetrics") or []:
                rank = rank_of.get(str(pod.get("PodId")), 0)
                for m in pod.get("Metrics") or []:
                    if m.get("Value") is None or m.get("Time") is None:
                        continue
                    out.append(
                        MetricPoint(name, float(m["Value"]), float(m["Time"]) / 1000.0, None, rank, "system")
                    )
        return out

    # -- events / provenance -------------------------------------------------------------------
    def events(self, job_id: str) -> list[JobEvent]:
        from alibabacloud_pai_dlc20201203 import models

        manifest, item = self._resolve(job_id)
        ids = [a["job_id"] for a in manifest["attempts"]] if manifest else [str(item.get("JobId"))]
        out = [JobEvent(**e) for e in (manifest or {}).get("events", [])]
        for number, dlc_id in enumerate(ids, start=1):
            attempt_item = item if dlc_id == item.get("JobId") else self._get_item(dlc_id)
            created = dj.parse_time(attempt_item.get("GmtCreateTime")) or 0.0
            for h in attempt_item.get("StatusHistory") or []:
                text = str(h.get("Status"))
                if h.get("ReasonMessage"):
                    text += f": {h['ReasonMessage']}"
                out.append(
                    JobEvent(
                        dj.parse_time(h.get("StartTime")) or created,
                        "state",
                        text,
                        {"attempt": number, "dlc_job_id": dlc_id, "dlc_status": h.get("Status")},
                    )
                )
            body = self._read(
                f"GetJobEvents {dlc_id}",
                lambda dlc_id=dlc_id: self.client.get_job_events(
                    dlc_id, models.GetJobEventsRequest()
                ).body.to_map(),
            )
            for text in body.get("Events") or []:
                text = str(text)
                ts = dj.parse_time(text.split(" ", 1)[0]) or created
                kind = "warning" if "warning" in text.lower() else "info"
                out.append(JobEvent(ts, kind, text, {"attempt": number, "dlc_job_id": dlc_id}))
        return sorted(out, key=lambda e: e.ts)


def worker_pods(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's current pods in rank order (a master, when present, is rank 0)."""

    def rank(pod: dict[str, Any]) -> tuple[int, int]:
        pod_id = str(pod.get("PodId", ""))
        tail = pod_id.rsplit("-", 1)[-1]
        role = 0 if str(pod.get("Type", "")).lower() in ("master", "chief") else 1
        return (role, int(tail) if tail.isdigit() else 0)

    return sorted(item.get("Pods") or [], key=rank)
