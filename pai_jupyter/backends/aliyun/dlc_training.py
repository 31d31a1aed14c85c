# Over 450 lines on purpose: the DLC job lifecycle (submit, resolve, reconcile, resubmit, records) is one unit.
"""The training face over PAI-DLC (``alibabacloud-pai-dlc20201203``).

``submit`` turns a JobSpec into a CreateJob request (``JobSpec.to_dlc`` plus
the run-folder mounts of ``dlc_jobs``) and writes the job's manifest to OSS.
Reads are GetJob / ListJobs / GetPodLogs / GetJobEvents / GetJobMetrics, and
the ``report()`` stream read back from the run folder. Stop is StopJob.

Reads never write: ``get``, ``list``, ``logs``, ... change nothing. ``reconcile_job`` is the
one place that writes the manifest (first-start time, failure reasons, attempt events,
provenance, spot resubmission); watchers call it on purpose (``Job.wait``, the widget, the
sidebar's push loop, every ``AliyunBackend.reconcile_interval``).

Spot reclaim: DLC fails a job whose spot instances are taken back. ``get`` shows
such a job as ``Restarting`` while restarts are left; ``reconcile_job`` resubmits it from the same spec with the same
checkpoint folder (so ``Checkpointer`` resumes), up to ``spec.max_restarts``
times; every attempt stays in the manifest and in the job's events, and users
keep one job id (the first attempt's DLC id). A claim object written with
``x-oss-forbid-overwrite`` makes two pollers resubmit once, not twice.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...config import PaiConfig
from ...errors import NotFoundError, PaiError, ValidationError
from ...records import FAILED, RESTARTING, JobPage, JobQuery, JobRecord, MetricPoint, WorkerRecord
from ...specs.job import EXPERIMENT_TAG, JOB_TYPES, JobSpec
from ...storage.uri import OssUri
from . import dlc_jobs as dj
from .credentials import openapi_config, region_endpoint
from .dlc_telemetry import DlcTelemetry, worker_pods
from .oss_storage import OssStorage
from .sdk_errors import read_call, sdk_call
from .workspace import PaiWorkspace

RESUBMIT_WAIT = 5.0
CLAIM_STALE_S = 120.0  # a resubmission claim older than this, with no new attempt, was abandoned
MAX_CREATE_BYTES = 65536  # DLC's limit on a whole CreateJob request


# Our state -> the DLC Status ListJobs filters on (one value per request: the main one).
DLC_STATUS = {
    "Creating": "Creating",
    "Queuing": "Queuing",
    "Running": "Running",
    "Restarting": "Restarting",
    "Stopping": "Stopping",
    "Succeeded": "Succeeded",
    "Failed": "Failed",
    "Stopped": "Stopped",
}


class DlcTraining(DlcTelemetry):
    can_preempt = False
    # DLC moves a job between states in seconds to minutes, and its API is rate limited:
    # poll it every few seconds, not at the local backend's sub-second cadence.
    reconcile_interval: float = 5.0

    def __init__(self, config: PaiConfig, storage: OssStorage) -> None:
        self.config = config
        self.storage = storage
        self.workspace = PaiWorkspace(config)
        self.endpoint = region_endpoint(config, "dlc")
        self._client: Any = None
        self._lock = threading.Lock()
        self._runtime_ready: set[str] = set()
        self._log_cache: dict[tuple[str, int], list[str]] = {}  # finished attempts only
        self._metric_cache: dict[str, tuple[int, list[MetricPoint], tuple[float, int] | None]] = {}

    # -- SDK plumbing -----------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_pai_dlc20201203.client import Client

            self._client = Client(openapi_config(self.config, "dlc"))
        return self._client

    def _call(self, what: str) -> Any:
        return sdk_call(what, self.endpoint, f"check PaiConfig.region ({self.config.region}) and workspace_id")

    def _read(self, what: str, fn: Any) -> Any:
        """An idempotent read, retried with backoff on throttling and 5xx (sdk_errors.read_call)."""
        return read_call(
            what, self.endpoint, f"check PaiConfig.region ({self.config.region}) and workspace_id", fn
        )

    def _get_item(self, dlc_id: str) -> dict[str, Any]:
        from alibabacloud_pai_dlc20201203 import models

        return self._read(
            f"GetJob {dlc_id}", lambda: self.client.get_job(dlc_id, models.GetJobRequest()).body.to_map()
        )

    def _create(self, body: dict[str, Any]) -> str:
        from alibabacloud_pai_dlc20201203 import models

        size = len(json.dumps(body).encode())
        if size > MAX_CREATE_BYTES:
            raise ValidationError(
                f"the CreateJob request for {body['DisplayName']!r} is {size} bytes; DLC takes at most {MAX_CREATE_BYTES}",
                "pass large settings as files in the code snapshot instead of --env or arguments",
            )
        with self._call(f"CreateJob {body['DisplayName']!r}"):
            return self.client.create_job(models.CreateJobRequest().from_map(body)).body.job_id

    # -- manifest -------------------------------------------------------------------------
    def _read_manifest(self, run: str) -> dict[str, Any] | None:
        uri = OssUri.parse(run).join("job.json")
        try:
            return json.loads(self.storage.read_bytes(uri))
        except NotFoundError:
            return None

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        uri = OssUri.parse(manifest["outputs"]["run"]).join("job.json")
        self.storage.write_bytes(uri, json.dumps(manifest, indent=2).encode())

    def _runtime(self, bucket: str) -> OssUri:
        """Upload the package's Python files once per content digest; return their folder."""
        digest, files = dj.runtime_files()
        base = OssUri(bucket, f"pai-jupyter/runtime/{digest}/")
        key = f"{bucket}/{digest}"
        if key in self._runtime_ready:
            return base
        done = base.join(".complete")
        if not self.storage.exists(done):
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda f: self.storage.write_bytes(base.join(f[1]), f[0].read_bytes()), files))
            self.storage.write_bytes(done, b"")  # written last: a partial upload is redone
        self._runtime_ready.add(key)
        return base

    def _run_folder(self, spec: JobSpec, code_uri: str) -> OssUri:
        code = OssUri.parse(code_uri, "code URI").as_dir()
        parent = code.key.rstrip("/").rsplit("/", 1)
        if len(parent) == 2 and parent[1] == "code":
            return OssUri(code.bucket, parent[0] + "/", code.endpoint)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return OssUri(code.bucket, f"pai-jupyter/runs/{spec.name}-{stamp}-{secrets.token_hex(3)}/")

    # -- TrainingBackend ------------------------------------------------------------------
    def submit(self, spec: JobSpec, code_uri: str, provenance: dict[str, Any], **_local_only: Any) -> JobRecord:
        """Submit ``spec``; local-only options (``python=``, simulated preemption) are ignored."""
        spec.validate()
        for item in spec.inputs:  # DLC would mount a missing folder and fail only inside the job
            if not self.storage.exists(OssUri.parse(item.uri)):
                raise NotFoundError(
                    f"data input {item.uri} does not exist",
                    f"upload it first: jupyter pai storage cp <local path> {item.uri}",
                )
        spec.validate_for_dlc(self.config.region)
        image, image_why = self.workspace.image_choice(spec, provenance.get("environment"))
        workspace_id = self.workspace.workspace_id()
        run = self._run_folder(spec, code_uri)
        runtime = self._runtime(run.bucket)
        outputs = dj.run_outputs(spec, run)
        input_files = self._input_files(spec)
        body = dj.create_body(
            spec, code_uri, run, runtime, outputs, self.config.region, workspace_id, 1, None, image, input_files
        )
        self._ensure_prefixes(body)
        requirements = dj.requirements_file(spec)
        if requirements is not None:  # ThirdpartyLibDir's requirements.txt (create_body)
            self.storage.write_bytes(run.join(dj.REQUIREMENTS_DIR, "requirements.txt"), requirements)
        job_id = self._create(body)
        now = time.time()
        manifest = {
            "root": job_id,
            "spec": spec.to_dict(),
            "code_uri": code_uri,
            "runtime": str(runtime),
            "outputs": outputs,
            "created_at": now,
            "image": image,
            "workspace_id": workspace_id,
            "input_files": input_files,
            "attempts": [{"attempt": 1, "job_id": job_id, "submitted_at": now}],
            "events": [
                {"ts": now, "kind": "info", "message": f"submitted to PAI-DLC as {job_id}", "data": {}},
                *self._choices(spec, body, now, image_why),
            ],
            "stopped": False,
            "provenance_written": False,
            "final_reason": None,
        }
        self.storage.write_bytes(
            run.join("provenance.json"), json.dumps(provenance, indent=2, default=str).encode()
        )
        self._write_manifest(manifest)
        return self._record(manifest, self._get_item(job_id))

    def _input_files(self, spec: JobSpec) -> dict[str, str]:
        """Channel -> file name for each input that is one OSS object rather than a folder."""
        files = {}
        for item in spec.inputs:
            uri = OssUri.parse(item.uri)
            if uri.key and not uri.key.endswith("/") and self.storage._object_exists(uri):
                files[item.channel] = uri.key.rsplit("/", 1)[-1]
        return files

    def _choices(
        self, spec: JobSpec, body: dict[str, Any], now: float, image_why: str = ""
    ) -> list[dict[str, Any]]:
        """Events naming what was chosen for the user: the instance type, the spot limit, the image."""
        role = body["JobSpecs"][0]
        out = []
        if role.get("EcsSpec") and not spec.instance_type:
            out.append(f"no --instance-type: running on {role['EcsSpec']} (the public pool needs one)")
        spot = role.get("SpotSpec") or {}
        if spec.spot and not (
            spec.spot_policy and (spec.spot_policy.discount_limit or spec.spot_policy.price_limit)
        ):
            out.append(f"no spot limit given: bidding up to SpotDiscountLimit={spot.get('SpotDiscountLimit')}")
        if not spec.image:
            out.append(f"no --image: using {role['Image']} from the workspace's image list ({image_why})")
        if spec.requirements:
            out.append(
                f"installs {len(spec.requirements)} pinned requirement(s) before the script ({spec.env_sync})"
            )
        return [{"ts": now, "kind": "info", "message": m, "data": {}} for m in out]

    def _ensure_prefixes(self, body: dict[str, Any]) -> None:
        """Read-write OSS mounts need their folder to exist when the job starts: write a marker."""
        for prefix in dj.rw_prefixes(body):
            if prefix.key and not self.storage.exists(prefix):
                self.storage.write_bytes(prefix.join(".keep"), b"")

    def _resolve(self, job_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """(manifest or None, GetJob of the latest attempt)."""
        item = self._get_item(job_id)
        run = (item.get("Envs") or {}).get(dj.ENV_RUN)
        manifest = self._read_manifest(run) if run else None
        if manifest is None:
            return None, item
        latest = manifest["attempts"][-1]["job_id"]
        if latest != item.get("JobId"):
            item = self._get_item(latest)
        return manifest, item

    def get(self, job_id: str) -> JobRecord:
        """Pure read: GetJob of the latest attempt and the manifest; changes nothing."""
        manifest, item = self._resolve(job_id)
        if manifest is None:
            return self._foreign_record(item)
        return self._record(manifest, item)

    def reconcile_job(self, job_id: str) -> JobRecord:
        """Bring the manifest up to date (events, provenance, spot resubmission); the new record."""
        manifest, item = self._resolve(job_id)
        if manifest is None:
            return self._foreign_record(item)
        item = self._reconcile(manifest, item)
        return self._record(manifest, item)

    def preempt(self, job_id: str) -> JobRecord:
        raise PaiError("the aliyun backend cannot simulate preemption")

    def _reconcile(self, manifest: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        spec = JobSpec.from_dict(manifest["spec"])
        state = dj.map_state(str(item.get("Status")), len(manifest["attempts"]))
        if state == FAILED and spec.spot and not manifest["stopped"] and dj.was_reclaimed(item):
            item = self._resubmit(manifest, item, spec)
            state = dj.map_state(str(item.get("Status")), len(manifest["attempts"]))
        started = dj.parse_time(item.get("GmtRunningTime"))
        if started and not manifest.get("started_at"):
            manifest["started_at"] = started  # the first attempt's start, kept across resubmissions
            self._write_manifest(manifest)
        if state == FAILED and not manifest.get("final_reason"):
            self._explain_failure(manifest, item)
        if state in ("Succeeded", "Failed", "Stopped") and not manifest["attempts"][-1].get("event"):
            reclaimed = state == FAILED and spec.spot and dj.was_reclaimed(item)
            manifest["events"].append(
                self._attempt_event(manifest, item, "preempted" if reclaimed else state.lower())
            )
            self._write_manifest(manifest)
        if state == "Succeeded" and not manifest["provenance_written"]:
            self._write_provenance(manifest, item)
        return item

    def _attempt_event(self, manifest: dict[str, Any], item: dict[str, Any], outcome: str) -> dict[str, Any]:
        """One ``attempt`` event per attempt, as the local runner writes: outcome, duration, last step."""
        entry = manifest["attempts"][-1]
        entry["event"] = True
        number = int(entry["attempt"])
        started = dj.parse_time(item.get("GmtRunningTime"))
        ended = dj.parse_time(item.get("GmtFinishTime")) or time.time()
        duration = ended - started if started else None
        uri = OssUri.parse(manifest["outputs"]["metrics"]).join(f"worker-0.{number}.jsonl")
        steps = [p.step for p in self._tail_metrics(str(uri), 0) if p.step is not None]
        last_step = max(steps) if steps else None
        parts = [f"attempt {number} {outcome}"]
        if duration is not None:
            parts.append(f"after {duration:.1f}s")
        if last_step is not None:
            parts.append(f"at step {last_step}")
        return {
            "ts": time.time(),
            "kind": "attempt",
            "message": ", ".join(parts),
            "data": {
                "attempt": number,
                "outcome": outcome,
                "duration_s": duration,
                "last_step": last_step,
                "dlc_job_id": entry["job_id"],
            },
        }

    def _explain_failure(self, manifest: dict[str, Any], item: dict[str, Any]) -> None:
        """DLC's reason plus the last line the failed worker printed (its exception, usually)."""
        reason = str(item.get("ReasonMessage") or item.get("ReasonCode") or "failed")
        pods = worker_pods(item)
        failed = next((r for r, p in enumerate(pods) if p.get("Status") == "Failed"), 0)
        try:
            lines = [line for line in self._pod_lines(str(item.get("JobId")), item, failed) if line.strip()]
        except PaiError:
            lines = []
        manifest["final_reason"] = f"{reason}: {lines[-1].strip()}" if lines else reason
        manifest["events"].append(
            {"ts": time.time(), "kind": "warning", "message": manifest["final_reason"], "data": {}}
        )
        self._write_manifest(manifest)

    def _resubmit(self, manifest: dict[str, Any], item: dict[str, Any], spec: JobSpec) -> dict[str, Any]:
        attempt = len(manifest["attempts"])
        now = time.time()
        if attempt - 1 >= spec.max_restarts:
            if not manifest["final_reason"]:
                manifest["final_reason"] = (
                    f"spot instances reclaimed {attempt} times; gave up after max_restarts={spec.max_restarts}"
                )
                manifest["events"].append(
                    {"ts": now, "kind": "warning", "message": manifest["final_reason"], "data": {}}
                )
                self._write_manifest(manifest)
            return item
        run = OssUri.parse(manifest["outputs"]["run"])
        claim = run.join("attempts", str(attempt + 1))
        if not self.storage.create_exclusive(claim, json.dumps({"claimed_at": now}).encode()):
            # Another client is resubmitting: wait for its manifest, then follow it.
            deadline = time.monotonic() + RESUBMIT_WAIT
            while time.monotonic() < deadline:
                fresh = self._read_manifest(str(run)) or manifest
                if len(fresh["attempts"]) > attempt:
                    manifest.clear()
                    manifest.update(fresh)
                    return self._get_item(fresh["attempts"][-1]["job_id"])
                time.sleep(0.2)
            if not self._claim_is_stale(claim, now):
                return item
            # The claimer died between its claim and CreateJob: take the resubmission over.
            self.storage.write_bytes(claim, json.dumps({"claimed_at": now, "took_over": True}).encode())
        body = dj.create_body(
            spec,
            manifest["code_uri"],
            run,
            OssUri.parse(manifest["runtime"]),
            manifest["outputs"],
            self.config.region,
            manifest.get("workspace_id", self.config.workspace_id),
            attempt + 1,
            manifest["root"],
            manifest.get("image"),
            manifest.get("input_files"),
        )
        new_id = self._create(body)
        old_id = manifest["attempts"][-1]["job_id"]
        if not manifest["attempts"][-1].get("event"):
            manifest["events"].append(self._attempt_event(manifest, item, "preempted"))
        manifest["attempts"][-1]["ended"] = {"status": item.get("Status"), "reason": item.get("ReasonMessage")}
        manifest["attempts"].append({"attempt": attempt + 1, "job_id": new_id, "submitted_at": now})
        manifest["events"] += [
            {
                "ts": now,
                "kind": "preemption",
                "message": f"spot instances of attempt {attempt} ({old_id}) were reclaimed",
                "data": {"attempt": attempt, "dlc_job_id": old_id},
            },
            {
                "ts": now,
                "kind": "restart",
                "message": f"attempt {attempt + 1} submitted as {new_id}; resuming from {manifest['outputs']['checkpoints']}",
                "data": {"attempt": attempt + 1, "dlc_job_id": new_id},
            },
        ]
        self._write_manifest(manifest)
        return self._get_item(new_id)

    def _claim_is_stale(self, claim: OssUri, now: float) -> bool:
        try:
            claimed_at = float(json.loads(self.storage.read_bytes(claim)).get("claimed_at", now))
        except (NotFoundError, ValueError, AttributeError):
            return True
        return now - claimed_at > CLAIM_STALE_S

    def _write_provenance(self, manifest: dict[str, Any], item: dict[str, Any]) -> None:
        run = OssUri.parse(manifest["outputs"]["run"])
        try:
            provenance = json.loads(self.storage.read_bytes(run.join("provenance.json")))
        except NotFoundError:
            provenance = {}
        provenance["job"] = {
            "id": manifest["root"],
            "name": manifest["spec"]["name"],
            "backend": "aliyun",
            "state": "Succeeded",
            "attempts": len(manifest["attempts"]),
            "dlc_job_ids": [a["job_id"] for a in manifest["attempts"]],
            "started_at": dj.parse_time(item.get("GmtRunningTime")),
            "finished_at": dj.parse_time(item.get("GmtFinishTime")),
            "code_uri": manifest["code_uri"],
            "outputs": manifest["outputs"],
        }
        try:  # what rank 0 recorded at start, beside the kernel's environment
            provenance["job_environment"] = json.loads(self.storage.read_bytes(run.join(dj.ENV_RECORD)))
        except (NotFoundError, ValueError):
            pass
        model = manifest["outputs"]["model"]
        # Before provenance.json lands there: ".keep" is ours (the mount needs an object), not a model.
        if not any(
            o.uri.rstrip("/").rsplit("/", 1)[-1] not in (".keep", "provenance.json")
            for o in self.storage.list(OssUri.parse(model), recursive=True)
        ):
            manifest["events"].append(
                {
                    "ts": time.time(),
                    "kind": "warning",
                    "message": f"the script wrote no model to PAI_OUTPUT_MODEL ({model})",
                    "data": {"output": model},
                }
            )
        uri = OssUri.parse(manifest["outputs"]["provenance"])
        self.storage.write_bytes(uri, json.dumps(provenance, indent=2, default=str).encode())
        manifest["provenance_written"] = True
        manifest["events"].append(
            {"ts": time.time(), "kind": "info", "message": f"provenance written to {uri}", "data": {}}
        )
        self._write_manifest(manifest)

    def _workers(self, item: dict[str, Any]) -> list[WorkerRecord]:
        return [
            WorkerRecord(
                rank=rank, state=str(p.get("Status") or ""), host=str(p.get("Ip") or p.get("PodIp") or "")
            )
            for rank, p in enumerate(worker_pods(item))
        ]

    def _record(self, manifest: dict[str, Any], item: dict[str, Any]) -> JobRecord:
        attempts = len(manifest["attempts"])
        state = dj.map_state(str(item.get("Status")), attempts)
        spec = JobSpec.from_dict(manifest["spec"])
        if (
            state == FAILED
            and spec.spot
            and not manifest["stopped"]
            and attempts - 1 < spec.max_restarts
            and dj.was_reclaimed(item)
        ):
            state = RESTARTING  # reclaimed with restarts left: the next reconcile_job resubmits it
        first_running = manifest.get("started_at") or dj.parse_time(item.get("GmtRunningTime"))
        reason = manifest.get("final_reason") if state == FAILED else None
        reason = reason or item.get("ReasonMessage") or None
        outputs = {**manifest["outputs"], "dlc_job_id": str(item.get("JobId"))}
        return JobRecord(
            id=manifest["root"],
            name=manifest["spec"]["name"],
            state=state,
            spec=spec,
            backend="aliyun",
            created_at=float(manifest["created_at"]),
            started_at=first_running,
            finished_at=dj.parse_time(item.get("GmtFinishTime"))
            if state in ("Succeeded", "Failed", "Stopped")
            else None,
            reason=reason,
            attempt=attempts,
            workers=self._workers(item),
            outputs=outputs,
            code_uri=manifest["code_uri"],
        )

    def _foreign_record(self, item: dict[str, Any]) -> JobRecord:
        status = str(item.get("Status"))
        state = dj.map_state(status, 1)
        return JobRecord(
            id=str(item.get("JobId")),
            name=str(item.get("DisplayName") or ""),
            state=state,
            spec=dj.foreign_spec(item),
            backend="aliyun",
            created_at=dj.parse_time(item.get("GmtCreateTime")) or 0.0,
            started_at=dj.parse_time(item.get("GmtRunningTime")),
            finished_at=dj.parse_time(item.get("GmtFinishTime")),
            reason=item.get("ReasonMessage") or None,
            attempt=1,
            workers=self._workers(item),
            outputs={"dlc_job_id": str(item.get("JobId"))},
            code_uri=None,
        )

    def list(self, limit: int = 100, state: str | None = None, name: str | None = None) -> list[JobRecord]:
        from alibabacloud_pai_dlc20201203 import models

        request = models.ListJobsRequest(
            page_size=min(100, max(limit * 2, 10)),
            page_number=1,
            display_name=name or None,
            workspace_id=self.workspace.workspace_id() or None,
            sort_by="GmtCreateTime",
            order="desc",
        )
        items = self._read("ListJobs", lambda: self.client.list_jobs(request).body.to_map().get("Jobs") or [])
        records = self._records([i for i in items if not (i.get("Envs") or {}).get(dj.ENV_ROOT)])
        if state:
            records = [r for r in records if r.state == state]
        if name:
            records = [r for r in records if name in r.name]
        records.sort(key=lambda r: r.created_at, reverse=True)
        return records[:limit]

    def list_page(self, query: JobQuery) -> JobPage:
        """One page through DLC ListJobs' own paging and filters (fields of the SDK model
        alibabacloud_pai_dlc20201203/models/_list_jobs_request.py): PageNumber/PageSize,
        DisplayName (fuzzy, case-insensitive), Status, JobType (the framework), StartTime/EndTime
        (creation time; without them DLC returns only the last 7 days, so StartTime is always
        sent), SortBy=GmtCreateTime, Order=desc; ``TotalCount`` is the total. The cursor is the
        next page number. What DLC cannot filter is documented: ``q`` matches the display name
        only, ``experiment`` is filtered within the page, and the total counts a spot job's
        resubmitted attempts (separate DLC jobs, folded into their first one here)."""
        from alibabacloud_pai_dlc20201203 import models

        if query.backend and query.backend != "aliyun":
            return JobPage([], 0, None)
        try:
            number = int(query.cursor) if query.cursor else (query.page or 1)
        except ValueError:
            raise ValidationError(
                f"{query.cursor!r} is not a page cursor of this list", "pass the 'next' value of the previous page"
            ) from None
        request = models.ListJobsRequest(
            page_size=query.limit,
            page_number=number,
            display_name=query.q or None,
            status=DLC_STATUS.get(query.state or "") if query.state else None,
            job_type=JOB_TYPES.get(query.framework or "") if query.framework else None,
            start_time=dj.iso(query.since or 0.0),
            end_time=dj.iso(query.until) if query.until is not None else None,
            workspace_id=self.workspace.workspace_id() or None,
            sort_by="GmtCreateTime",
            order="desc",
        )
        body = self._read("ListJobs", lambda: self.client.list_jobs(request).body.to_map())
        items = body.get("Jobs") or []
        total = int(body.get("TotalCount") or len(items))
        records = self._records([i for i in items if not (i.get("Envs") or {}).get(dj.ENV_ROOT)])
        if query.framework:
            records = [r for r in records if r.spec.framework == query.framework]
        if query.experiment:
            records = [r for r in records if getattr(r.spec, "experiment", None) == query.experiment]
        records.sort(key=lambda r: r.created_at, reverse=True)
        more = number * query.limit < total
        return JobPage(records, total, str(number + 1) if more else None)

    def _records(self, items: list[dict[str, Any]]) -> list[JobRecord]:
        def one(item: dict[str, Any]) -> JobRecord | None:
            try:
                if (item.get("Envs") or {}).get(dj.ENV_RUN):
                    return self.get(str(item["JobId"]))
                return self._foreign_record(item)
            except NotFoundError:
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            return [r for r in pool.map(one, items) if r is not None]

    def stop(self, job_id: str) -> JobRecord:
        manifest, item = self._resolve(job_id)
        if manifest is not None:
            manifest["stopped"] = True
            manifest["events"].append({"ts": time.time(), "kind": "info", "message": "stop requested", "data": {}})
            self._write_manifest(manifest)
        if dj.map_state(str(item.get("Status")), 1) not in ("Succeeded", "Failed", "Stopped"):
            dlc_id = str(item.get("JobId"))
            with self._call(f"StopJob {dlc_id}"):
                self.client.stop_job(dlc_id)
        return self.reconcile_job(job_id)

    def recorded_environment(self, job_id: str) -> dict[str, Any] | None:
        """What rank 0 recorded at start into the run folder (``dlc_jobs.wrapper_prefix``)."""
        manifest, _ = self._resolve(job_id)
        if manifest is None:
            return None
        try:
            return json.loads(
                self.storage.read_bytes(OssUri.parse(manifest["outputs"]["run"]).join(dj.ENV_RECORD))
            )
        except (NotFoundError, ValueError):
            return None

    def add_provenance(self, job_id: str, fields: dict[str, Any]) -> None:
        """Merge ``fields`` into the run's provenance.json (and the model's copy once written)."""
        manifest, item = self._resolve(job_id)
        if manifest is None:
            raise NotFoundError(f"job {job_id} was not submitted by pai-jupyter, so it has no provenance")
        run = OssUri.parse(manifest["outputs"]["run"]).join("provenance.json")
        provenance = {**self.provenance(job_id), **fields}
        self.storage.write_bytes(run, json.dumps(provenance, indent=2, default=str).encode())
        if manifest["provenance_written"]:
            self._write_provenance(manifest, item)

    def provenance(self, job_id: str) -> dict[str, Any]:
        manifest, _ = self._resolve(job_id)
        if manifest is None:
            raise NotFoundError(
                f"job {job_id} was not submitted by pai-jupyter, so it has no provenance",
                "only jobs submitted with %%pai_train / jupyter pai train carry provenance",
            )
        for uri in (manifest["outputs"]["run"] + "provenance.json", manifest["outputs"]["provenance"]):
            try:
                return json.loads(self.storage.read_bytes(OssUri.parse(uri)))
            except NotFoundError:
                continue
        raise PaiError(f"the provenance of job {job_id} is missing from {manifest['outputs']['run']}")

    def experiment_jobs(self, name: str, limit: int = 500) -> list[JobRecord]:
        # Our jobs carry their experiment as the tag EXPERIMENT_TAG (JobSpec.to_dlc), and ListJobs
        # filters on tags (ListJobsRequest.Tags, "the tags used for filtering", SDK model
        # _list_jobs_request.py; the client sends it as a JSON string, client.py list_jobs_with_options).
        from alibabacloud_pai_dlc20201203 import models

        request = models.ListJobsRequest(
            page_size=min(100, max(limit, 10)),
            page_number=1,
            tags={EXPERIMENT_TAG: name},
            workspace_id=self.workspace.workspace_id() or None,
            sort_by="GmtCreateTime",
            order="desc",
        )
        items = self._read("ListJobs", lambda: self.client.list_jobs(request).body.to_map().get("Jobs") or [])
        # Only jobs submitted by pai-jupyter carry the tag; a resubmitted attempt folds into its first job.
        ids = [str(i["JobId"]) for i in items if not (i.get("Envs") or {}).get(dj.ENV_ROOT)]

        def one(job_id: str) -> JobRecord | None:
            try:
                return self.get(job_id)
            except NotFoundError:
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = [r for r in pool.map(one, ids) if r is not None and r.spec.experiment == name]
        return sorted(records, key=lambda r: r.created_at, reverse=True)[:limit]

    def experiments(self) -> list[dict[str, Any]]:
        # DLC has no group-by: the experiments among the workspace's newest 100 jobs (one ListJobs page).
        groups: dict[str, dict[str, Any]] = {}
        for record in self.list(limit=100):
            if record.spec.experiment:
                group = groups.setdefault(
                    record.spec.experiment, {"name": record.spec.experiment, "runs": 0, "last_created_at": 0.0}
                )
                group["runs"] += 1
                group["last_created_at"] = max(group["last_created_at"], record.created_at)
        return sorted(groups.values(), key=lambda g: g["last_created_at"], reverse=True)
