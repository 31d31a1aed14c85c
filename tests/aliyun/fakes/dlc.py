"""A fake PAI-DLC 2020-12-03 that really runs jobs, as local processes.

It speaks the ROA API the SDK sends (paths, methods, PascalCase JSON and
query keys), verifies each request's ACS3-HMAC-SHA256 signature with the
configured secret (``signing.verify_acs3``), and checks every CreateJob body
against the SDK models and the documentation, with the source next to each
rule: the field sets are read from the SDK's own model classes; the public
pool needs an EcsSpec per role and takes no ResourceConfig; a SpotSpec needs
SpotWithPriceLimit and one limit; spot is PyTorch-only and regional; OSS URIs
carry the bucket's endpoint. GetJob answers from the fake's own job record in
the shape of ``GetJobResponseBody`` (DataSources carry only DataSourceId,
MountPath and Uri), never by echoing the CreateJob body. A job's pods are processes running ``UserCommand`` with DLC's injected
variables; its ``DataSources`` are "mounted" by linking the mount path to the
fake OSS folder of the URI (paths in the command and env are rewritten to
the job's folder, since /ml cannot be created here). States follow DLC:
Creating -> Queuing -> EnvPreparing -> Running -> Succeeded | Failed, or
Stopping -> Stopped. ``reclaim(job_id)`` kills the pods the way a spot reclaim
does: the job ends Failed, and the evicted pods show only under ``HistoryPods``
of the pods that replaced them (``GetJobResponseBodyPodsHistoryPods``).
TensorFlow pods get ``TF_CONFIG`` and no ``RANK`` (DLC's environment variables
page). OSS mounts behave like JindoFuse (pai-api.md section 9): a mounted
prefix must exist, appends need ``Settings.EnableOssAppend``, and ``fsync``
fails on files not opened for append (emulated inside each pod by a
``sitecustomize`` module that wraps ``open`` and ``os.fsync``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alibabacloud_pai_dlc20201203 import models as dlc_models

from . import common
from .common import FakeServer, Request, Response, acs_error, check_acs_signature, json_response, request_id
from .oss import FakeOss

VERSION = "2020-12-03"


def model_fields(cls: type) -> set[str]:
    """The wire names an SDK model reads (its ``from_map``): what the API documents for it."""
    return set(re.findall(r"m\.get\('(\w+)'\)", inspect.getsource(cls.from_map)))


JOB_TYPES = {
    "TFJob": {"Chief", "PS", "Worker", "Evaluator", "GraphLearn"},
    "PyTorchJob": {"Worker", "Master"},
    "MPIJob": {"Worker", "Master", "Launcher"},
    "XGBoostJob": {"Worker", "Master"},
    "OneFlowJob": {"Worker", "Master"},
    "ElasticBatchJob": {"Worker", "Master"},
    "SlurmJob": {"Worker"},
    "RayJob": {"Head", "Worker"},
    "DataJuicerJob": {"Worker"},
}
# Field sets straight from the SDK models (alibabacloud_pai_dlc20201203/models/_create_job_request.py,
# _job_spec.py, _resource_config.py, _spot_spec.py, _job_settings.py).
CREATE_FIELDS = model_fields(dlc_models.CreateJobRequest)
JOBSPEC_FIELDS = model_fields(dlc_models.JobSpec)
RESOURCE_FIELDS = model_fields(dlc_models.ResourceConfig)
SPOT_FIELDS = model_fields(dlc_models.SpotSpec)
SETTINGS_FIELDS = model_fields(dlc_models.JobSettings)
DATASOURCE_FIELDS = model_fields(dlc_models.CreateJobRequestDataSources)
# What GetJob answers, per the response models (_get_job_response_body.py).
GETJOB_FIELDS = model_fields(dlc_models.GetJobResponseBody)
GETJOB_DATASOURCE_FIELDS = model_fields(dlc_models.GetJobResponseBodyDataSources)
POD_FIELDS = model_fields(dlc_models.GetJobResponseBodyPods)
# Keys the SDK's models always serialise, as empty lists; allowed only when empty.
SDK_EMPTY_DEFAULTS = {"CustomEnvs", "ElasticSpotSpecs", "LocalMountSpecs", "StartupDependencies"}
# SpotSpec.SpotStrategy: "Valid values: SpotWithPriceLimit" (SDK model _spot_spec.py; DLC SpotSpec struct page).
SPOT_STRATEGIES = {"SpotWithPriceLimit"}
# General-purpose spot jobs: PyTorch only, in these regions ("Use preemptible jobs", doc 2785448).
SPOT_JOB_TYPES = {"PyTorchJob"}
SPOT_REGIONS = {"cn-beijing", "cn-shanghai", "cn-hangzhou", "cn-shenzhen", "cn-wulanchabu", "cn-guangzhou"}
_OSS_MOUNT_URI = re.compile(r"^oss://([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.(oss-[a-z0-9-]+\.aliyuncs\.com)/(.*)$")
# GetJobMetrics MetricType values (the SDK model _get_job_metrics_request.py; pai-api.md section 2.3).
METRIC_TYPES = {
    "GpuCoreUsage",
    "GpuMemoryUsage",
    "CpuCoreUsage",
    "MemoryUsage",
    "NetworkInputRate",
    "NetworkOutputRate",
    "DiskReadRate",
    "DiskWriteRate",
}
TERMINAL = {"Succeeded", "Failed", "Stopped"}
# Query keys each action sends (the *_with_options methods in alibabacloud_pai_dlc20201203/client.py;
# pai-api.md section 2.3); anything else is a contract break.
QUERY_KEYS = {
    "ListJobs": model_fields(dlc_models.ListJobsRequest),
    "GetJob": model_fields(dlc_models.GetJobRequest),
    "GetPodLogs": model_fields(dlc_models.GetPodLogsRequest),
    "GetJobEvents": model_fields(dlc_models.GetJobEventsRequest),
    "GetJobMetrics": model_fields(dlc_models.GetJobMetricsRequest),
    "StopJob": set(),
    "CreateJob": set(),
    "DeleteJob": set(),
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


def _parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)).timestamp()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pod:
    pod_id: str
    rank: int
    log: Path
    status: str = "Pending"
    sub_status: str = "Normal"
    proc: subprocess.Popen | None = None
    started: float | None = None
    finished: float | None = None
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier incarnations (HistoryPods)
    procs: dict[int, Any] = field(default_factory=dict)  # psutil.Process by pid (cpu_percent needs them kept)


@dataclass
class Job:
    job_id: str
    body: dict[str, Any]
    created: float
    status: str = "Creating"
    reason_code: str = ""
    reason_message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    stop_requested: bool = False
    reclaimed: bool = False


def validate_create(body: Any, raw: bytes, region: str = "cn-hangzhou") -> str | None:
    """The first way ``body`` breaks the documented CreateJob contract, or None."""
    if len(raw) > 65536:  # https://www.alibabacloud.com/help/en/doc-detail/459672.html
        return f"request body is {len(raw)} bytes; the limit is 65536"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    for key, value in body.items():
        if key not in CREATE_FIELDS and not (key in SDK_EMPTY_DEFAULTS and value in ([], None)):
            return f"unknown field {key}"
    for key in ("DisplayName", "JobType", "JobSpecs", "UserCommand"):  # "This parameter is required." in the model
        if not body.get(key):
            return f"{key} is required"
    if not _NAME.match(body["DisplayName"]):
        return "DisplayName must be 1-256 of [A-Za-z0-9_.-]"
    if body["JobType"] not in JOB_TYPES:
        return f"JobType {body['JobType']} is not valid"
    if not 1 <= int(body.get("Priority", 1)) <= 9:  # "Valid values: 1 to 9" (model comment)
        return "Priority must be 1-9"
    public = not body.get(
        "ResourceId"
    )  # "If this parameter is left empty, the job is submitted to the public resource group."
    for spec in body["JobSpecs"]:
        for key, value in spec.items():
            if key not in JOBSPEC_FIELDS and not (key in SDK_EMPTY_DEFAULTS and value in ([], None)):
                return f"unknown JobSpecs field {key}"
        if spec.get("Type") not in JOB_TYPES[body["JobType"]]:
            return f"role {spec.get('Type')} is not valid for {body['JobType']}"
        if not spec.get("Image") or not isinstance(spec.get("PodCount"), int) or spec["PodCount"] < 1:
            return "each JobSpecs entry needs Image and PodCount >= 1"
        # The public pool runs whole ECS instances: each role names its EcsSpec; ResourceConfig sizes a
        # dedicated quota and needs a ResourceId (pai-api.md section 9; the PAI SDK always sets an
        # instance type on the public pool, pai/estimator.py).
        if public and not spec.get("EcsSpec"):
            return f"role {spec.get('Type')} on the public resource group needs an EcsSpec"
        if public and spec.get("ResourceConfig"):
            return "ResourceConfig is for a dedicated quota: it needs a ResourceId"
        if set(spec.get("ResourceConfig") or {}) - RESOURCE_FIELDS:
            return "unknown ResourceConfig field"
        for value in (spec.get("ResourceConfig") or {}).values():
            if not isinstance(value, str):  # every ResourceConfig field is a str in the model
                return "ResourceConfig values are strings"
        if spec.get("UseSpotInstance") or spec.get("SpotSpec"):
            spot = spec.get("SpotSpec") or {}
            if set(spot) - SPOT_FIELDS:
                return "unknown SpotSpec field"
            if spot.get("SpotStrategy") not in SPOT_STRATEGIES:
                return f"SpotStrategy {spot.get('SpotStrategy')!r} is not valid (SpotWithPriceLimit)"
            if (spot.get("SpotDiscountLimit") is None) == (spot.get("SpotPriceLimit") is None):
                return "SpotSpec needs exactly one of SpotDiscountLimit and SpotPriceLimit"
            if not spec.get("UseSpotInstance"):
                return "SpotSpec without UseSpotInstance"
            if body["JobType"] not in SPOT_JOB_TYPES:
                return (
                    f"spot instances are not available for {body['JobType']} (general-purpose spot: PyTorch only)"
                )
            if region not in SPOT_REGIONS:
                return f"spot instances are not available in {region}"
    for src in body.get("DataSources") or []:
        if set(src) - DATASOURCE_FIELDS:
            return "unknown DataSources field"
        if bool(src.get("Uri")) == bool(src.get("DataSourceId")):
            return "a data source needs exactly one of Uri and DataSourceId"
        if not str(src.get("MountPath", "")).startswith("/") or src.get("MountAccess", "RO") not in ("RO", "RW"):
            return "MountPath must be absolute and MountAccess RO or RW"
        # OSS URIs carry the bucket's endpoint, as the PAI SDK sends them (patch_oss_endpoint in
        # pai/common/oss_utils.py): inside the job's VPC, the region's internal endpoint.
        uri = str(src.get("Uri") or "")
        if uri.startswith("oss://"):
            m = _OSS_MOUNT_URI.match(uri)
            if not m:
                return f"OSS URI {uri} does not name the bucket's endpoint (oss://bucket.oss-<region>-internal.aliyuncs.com/...)"
            if m.group(2) not in (f"oss-{region}-internal.aliyuncs.com", f"oss-{region}.aliyuncs.com"):
                return f"OSS URI {uri} names an endpoint outside {region}"
    if set(body.get("Settings") or {}) - SETTINGS_FIELDS:
        return "unknown Settings field"
    envs = body.get("Envs") or {}
    if not isinstance(envs, dict) or not all(isinstance(v, str) for v in envs.values()):
        return "Envs must map names to strings"
    if "JobMaxRunningTimeMinutes" in body and int(body["JobMaxRunningTimeMinutes"]) < 1:
        return "JobMaxRunningTimeMinutes must be positive"
    return None


class FakeDlc(FakeServer):
    name = "fake-dlc"

    def __init__(
        self,
        oss: FakeOss,
        workdir: Path,
        python: str = sys.executable,
        step: float = 0.05,
        region: str = "cn-hangzhou",
    ) -> None:
        super().__init__()
        self.oss = oss
        self.region = region
        self.denied: set[str] = set()  # actions the caller's RAM policy does not allow
        self.metrics_failing = False  # GetJobMetrics "is not maintained for all job kinds" (section 9)
        self.workdir = workdir
        self.python = python
        self.step = step  # seconds between the states before Running
        self.jobs: dict[str, Job] = {}
        # Where the fake's pip finds wheels the "image" lacks (no network here); None: an empty index.
        self.wheelhouse: Path | None = None
        self.errors: list[str] = []  # contract violations seen (a test asserts this stays empty)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="fake-dlc-tick", daemon=True)

    def start(self) -> FakeDlc:
        super().start()
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            for job in self.jobs.values():
                for pod in job.pods:
                    if pod.proc and pod.proc.poll() is None:
                        os.killpg(pod.proc.pid, signal.SIGKILL)
        super().stop()

    # -- HTTP ------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        bad = check_acs_signature(req, VERSION)
        if bad:
            return bad
        action = req.headers["x-acs-action"]
        m = re.fullmatch(r"/api/v1/jobs(?:/([^/]+)(/.*)?)?", req.path)
        if not m:
            return acs_error(404, "InvalidAction.NotFound", f"no route {req.method} {req.path}")
        job_id, rest = m.group(1), m.group(2) or ""
        route = {
            ("POST", False, ""): "CreateJob",
            ("GET", False, ""): "ListJobs",
            ("GET", True, ""): "GetJob",
            ("POST", True, "/stop"): "StopJob",
            ("DELETE", True, ""): "DeleteJob",
            ("GET", True, "/events"): "GetJobEvents",
            ("GET", True, "/metrics"): "GetJobMetrics",
        }.get((req.method, job_id is not None, rest))
        if route is None and rest.startswith("/pods/") and rest.endswith("/logs") and req.method == "GET":
            route = "GetPodLogs"
        if route is None:
            return acs_error(404, "InvalidAction.NotFound", f"no route {req.method} {req.path}")
        if route != action:
            self.errors.append(f"{req.method} {req.path} sent x-acs-action {action}, expected {route}")
            return acs_error(400, "InvalidAction", f"action {action} does not match the path")
        if route in self.denied:  # a RAM policy without this action: 403 Forbidden.RAM (POP RAM errors)
            return acs_error(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")
        unknown = set(req.query) - QUERY_KEYS[route]
        if unknown:
            self.errors.append(f"{route}: undocumented query key(s) {sorted(unknown)}")
            return acs_error(400, "InvalidParameter", f"unknown parameter(s) {sorted(unknown)}")
        if route == "CreateJob":
            return self.create(req)
        if route == "ListJobs":
            return self.list(req)
        with self.lock:
            job = self.jobs.get(job_id or "")
        if job is None:
            return acs_error(404, "JobNotFound", f"job {job_id} does not exist")
        if route == "GetJob":
            return json_response({**self.item(job), "RequestId": request_id()})
        if route == "StopJob":
            return self.stop_job(job)
        if route == "DeleteJob":
            with self.lock:
                del self.jobs[job.job_id]
            return json_response({"JobId": job.job_id, "RequestId": request_id()})
        if route == "GetJobEvents":
            limit = int(req.query.get("MaxEventsNum") or 2000)
            return json_response({"JobId": job.job_id, "Events": job.events[-limit:], "RequestId": request_id()})
        if route == "GetJobMetrics":
            return self.metrics(req, job)
        return self.pod_logs(req, job, rest.split("/")[2])

    def create(self, req: Request) -> Response:
        try:
            body = req.json
        except ValueError:
            return acs_error(400, "InvalidParameter", "body is not JSON")
        problem = validate_create(body, req.body, self.region)
        if problem:
            self.errors.append(f"CreateJob: {problem}")
            return acs_error(400, "InvalidParameter", problem)
        job_id = "dlc" + secrets.token_hex(7)
        job = Job(job_id, body, time.time())
        job.times["Create"] = job.created
        self._transition(job, "Creating")
        with self.lock:
            self.jobs[job_id] = job
        return json_response({"JobId": job_id, "RequestId": request_id()})

    def list(self, req: Request) -> Response:
        q = req.query
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)
        if q.get("WorkspaceId"):
            jobs = [j for j in jobs if j.body.get("WorkspaceId") == q["WorkspaceId"]]
        # ListJobsRequest.Tags filters on the jobs' tags; the SDK sends it as a JSON object string
        # (client.py list_jobs_with_options). A job matches when it carries every tag asked for.
        if q.get("Tags"):
            wanted = json.loads(q["Tags"]).items()
            jobs = [j for j in jobs if wanted <= ((j.body.get("Settings") or {}).get("Tags") or {}).items()]
        if q.get("DisplayName"):
            # "Supports fuzzy match and is case-insensitive" (ListJobsRequest.display_name, SDK model
            # alibabacloud_pai_dlc20201203/models/_list_jobs_request.py).
            text = q["DisplayName"].lower()
            jobs = [j for j in jobs if text in j.body["DisplayName"].lower()]
        if q.get("Status"):
            jobs = [j for j in jobs if j.status == q["Status"]]
        if q.get("JobType"):
            jobs = [j for j in jobs if j.body["JobType"] == q["JobType"]]
        # StartTime/EndTime filter on creation time; "If neither StartTime nor EndTime is specified,
        # jobs created in the last 7 days are returned by default" (same model file).
        start, end = _parse_iso(q.get("StartTime")), _parse_iso(q.get("EndTime"))
        if start is None and end is None:
            start = time.time() - 7 * 86400
        if start is not None:
            jobs = [j for j in jobs if j.created >= start]
        if end is not None:
            jobs = [j for j in jobs if j.created < end]
        # SortBy GmtCreateTime (one of the listed values) and Order asc|desc, "desc" by default (same file).
        if q.get("Order") == "asc":
            jobs.reverse()
        page, size = int(q.get("PageNumber") or 1), int(q.get("PageSize") or 50)
        chosen = jobs[(page - 1) * size : page * size]
        return json_response(
            {"Jobs": [self.item(j) for j in chosen], "TotalCount": len(jobs), "RequestId": request_id()}
        )

    def item(self, job: Job) -> dict[str, Any]:
        """GetJob's answer, built from the job record in the shape of ``GetJobResponseBody``."""
        b = job.body
        out = {
            "JobId": job.job_id,
            "DisplayName": b["DisplayName"],
            "JobType": b["JobType"],
            "JobSpecs": [{k: v for k, v in s.items() if v not in ([], None)} for s in b["JobSpecs"]],
            "UserCommand": b["UserCommand"],
            "Envs": dict(b.get("Envs") or {}),
            # GetJobResponseBodyDataSources has DataSourceId, MountPath and Uri only (no MountAccess).
            "DataSources": [
                {k: v for k, v in s.items() if k in GETJOB_DATASOURCE_FIELDS} for s in b.get("DataSources") or []
            ],
            "Settings": dict(b.get("Settings") or {}),
            "WorkspaceId": b.get("WorkspaceId", ""),
            "ResourceId": b.get("ResourceId", ""),
            "ResourceLevel": "L0",
            "Priority": b.get("Priority", 1),
            "ResourceType": "ECS",
            "Status": job.status,
            "SubStatus": "",
            "ReasonCode": job.reason_code,
            "ReasonMessage": job.reason_message,
            "StatusHistory": [dict(h) for h in job.history],
            "RestartTimes": "0",
            "Duration": int((job.times.get("Finish") or time.time()) - job.times.get("Running", time.time())),
            "GmtCreateTime": iso(job.created),
            "GmtSubmittedTime": iso(job.created),
            "GmtRunningTime": iso(job.times.get("Running")),
            "GmtFinishTime": iso(job.times.get("Finish")),
            "GmtFailedTime": iso(job.times.get("Failed")),
            "GmtSuccessedTime": iso(job.times.get("Succeeded")),
            "GmtStoppedTime": iso(job.times.get("Stopped")),
            "Pods": [
                {
                    "PodId": p.pod_id,
                    "PodUid": f"uid-{p.pod_id}-{len(p.history)}",
                    "Type": "Worker",
                    "Status": p.status,
                    "SubStatus": p.sub_status,
                    "Ip": "127.0.0.1",
                    "GmtCreateTime": iso(job.created),
                    "GmtStartTime": iso(p.started),
                    "GmtFinishTime": iso(p.finished),
                    "HistoryPods": [dict(h) for h in p.history],
                }
                for p in job.pods
            ],
        }
        unknown = set(out) - GETJOB_FIELDS
        assert not unknown, f"the fake answers GetJob fields the SDK model lacks: {unknown}"
        return out

    def stop_job(self, job: Job) -> Response:
        with self.lock:
            if job.status not in TERMINAL:
                job.stop_requested = True
                self._transition(job, "Stopping")
                for pod in job.pods:
                    if pod.proc and pod.proc.poll() is None:
                        os.killpg(pod.proc.pid, signal.SIGTERM)
        return json_response({"JobId": job.job_id, "RequestId": request_id()})

    def pod_logs(self, req: Request, job: Job, pod_id: str) -> Response:
        pod = next((p for p in job.pods if p.pod_id == pod_id), None)
        if pod is None:
            return acs_error(404, "PodNotFound", f"pod {pod_id} does not exist in job {job.job_id}")
        max_lines = int(req.query.get("MaxLines") or 2000)
        lines = pod.log.read_text(errors="replace").splitlines() if pod.log.exists() else []
        return json_response(
            {
                "JobId": job.job_id,
                "PodId": pod_id,
                "PodUid": f"uid-{pod_id}",
                "Logs": lines[:max_lines],
                "RequestId": request_id(),
            }
        )

    def metrics(self, req: Request, job: Job) -> Response:
        if self.metrics_failing:  # not maintained for every job kind: the call fails (section 9)
            return acs_error(500, "InternalError", "metrics are not available for this job")
        kind = req.query.get("MetricType", "")
        if kind not in METRIC_TYPES:
            self.errors.append(f"GetJobMetrics: MetricType {kind!r}")
            return acs_error(400, "InvalidParameter", f"MetricType {kind!r} is not valid")
        try:
            start = parse_iso(req.query["StartTime"]) * 1000 if req.query.get("StartTime") else 0.0
        except ValueError:
            self.errors.append(f"GetJobMetrics: StartTime {req.query['StartTime']!r} is not ISO 8601")
            return acs_error(400, "InvalidParameter", "StartTime must be ISO 8601 UTC")
        out = []
        for pod in job.pods:
            samples = [
                {"Time": int(ts * 1000), "Value": value}
                for ts, value in pod.samples.get(kind, [])
                if ts * 1000 >= start
            ]
            out.append({"PodId": pod.pod_id, "Metrics": samples})
        return json_response({"JobId": job.job_id, "PodMetrics": out, "RequestId": request_id()})

    # -- the state machine ----------------------------------------------------------------
    def _transition(self, job: Job, status: str, code: str = "", message: str = "") -> None:
        now = time.time()
        if job.history:
            job.history[-1]["EndTime"] = iso(now)
        job.history.append(
            {
                "Status": status,
                "StartTime": iso(now),
                "EndTime": None,
                "ReasonCode": code,
                "ReasonMessage": message,
            }
        )
        job.status, job.reason_code, job.reason_message = status, code, message
        job.times[status] = now
        if status in TERMINAL:
            job.times["Finish"] = now
        job.events.append(
            f"{iso(now)} Normal JobStatusChanged job {job.job_id} is {status}"
            + (f": {message}" if message else "")
        )

    def reclaim(self, job_id: str) -> None:
        """The spot instances under the job are reclaimed: pods die at once, the job fails.

        Each evicted pod becomes a ``HistoryPods`` entry (SubStatus ``Evicted``) of a replacement
        pod that never started (``GetJobResponseBodyPodsHistoryPods``): the current pods show no
        eviction, and the job's reason names none (a reader must look in HistoryPods).
        """
        with self.lock:
            job = self.jobs[job_id]
            job.reclaimed = True
            for pod in job.pods:
                if pod.proc and pod.proc.poll() is None:
                    os.killpg(pod.proc.pid, signal.SIGKILL)

    def _replace_evicted(self, job: Job) -> None:
        now = time.time()
        for pod in job.pods:
            pod.history.append(
                {
                    "PodId": pod.pod_id,
                    "PodUid": f"uid-{pod.pod_id}-{len(pod.history)}",
                    "Type": "Worker",
                    "Status": "Failed",
                    "SubStatus": "Evicted",
                    "Ip": "127.0.0.1",
                    "GmtCreateTime": iso(job.created),
                    "GmtStartTime": iso(pod.started),
                    "GmtFinishTime": iso(now),
                }
            )
            pod.status, pod.sub_status, pod.started, pod.finished = "Failed", "Normal", None, now

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                jobs = [j for j in self.jobs.values() if j.status not in TERMINAL]
            for job in jobs:
                try:
                    self._tick(job)
                except Exception as exc:  # keep the fake alive; the test sees the error
                    self.errors.append(f"fake DLC tick failed for {job.job_id}: {exc!r}")
                    with self.lock:
                        self._transition(job, "Failed", "FakeError", repr(exc))

    def _tick(self, job: Job) -> None:
        with self.lock:
            since = time.time() - job.times[job.status]
            nxt = {"Creating": "Queuing", "Queuing": "EnvPreparing", "EnvPreparing": "Running"}.get(job.status)
            if job.stop_requested and job.status in ("Creating", "Queuing", "EnvPreparing"):
                self._transition(job, "Stopped", "JobStopped", "stopped by user")
                return
            if nxt and since >= self.step:
                if nxt == "Running":
                    try:
                        self._start_pods(job)
                    except MountFailed as exc:  # the job never runs; DLC reports it in EnvPreparing
                        self._transition(job, "Failed", "MountFailed", str(exc))
                        return
                self._transition(job, nxt)
                return
            if job.status not in ("Running", "Stopping"):
                return
            self._sample(job)
            codes = [p.proc.poll() if p.proc else None for p in job.pods]
            for pod, code in zip(job.pods, codes, strict=True):
                if code is not None and pod.finished is None:
                    pod.finished = time.time()
                    pod.status = "Succeeded" if code == 0 else "Failed"
            if any(c is None for c in codes):
                if job.reclaimed:  # wait for the killed pods to be reaped
                    return
                failed = [p for p, c in zip(job.pods, codes, strict=True) if c not in (None, 0)]
                if failed and not job.stop_requested:
                    for pod in job.pods:
                        if pod.proc and pod.proc.poll() is None:
                            os.killpg(pod.proc.pid, signal.SIGTERM)
                return
            if job.reclaimed:
                self._replace_evicted(job)
                self._transition(job, "Failed", "JobFailed", "the job failed: not all pods are running")
            elif job.stop_requested:
                self._transition(job, "Stopped", "JobStopped", "stopped by user")
            elif all(c == 0 for c in codes):
                self._transition(job, "Succeeded")
            else:
                bad = next(p for p, c in zip(job.pods, codes, strict=True) if c != 0)
                self._transition(
                    job, "Failed", "JobFailed", f"pod {bad.pod_id} exited with code {bad.proc.poll()}"
                )

    def _mounts(self, job: Job, root: Path) -> tuple[dict[str, Path], list[Path]]:
        """Link each mount path to its fake OSS folder; (mount path -> link, OSS targets)."""
        mounts: dict[str, Path] = {}
        targets: list[Path] = []
        for src in job.body.get("DataSources") or []:
            m = _OSS_MOUNT_URI.match(src["Uri"])
            if not m:
                raise ValueError(f"fake DLC mounts only endpoint-qualified oss:// URIs, got {src['Uri']}")
            bucket, key = m.group(1), m.group(3)
            target = self.oss.path(bucket, key.rstrip("/")) if key else self.oss.root / bucket
            # JindoFuse mounts an existing prefix: a folder with no object under it fails the mount.
            if not target.is_dir() or not any(p.is_file() for p in target.rglob("*")):
                raise MountFailed(f"mount {src['MountPath']} failed: oss://{bucket}/{key} does not exist")
            local = root / src["MountPath"].lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.symlink_to(target, target_is_directory=True)
            mounts[src["MountPath"].rstrip("/")] = local
            targets.append(target.resolve())
        return mounts, targets

    def _pod_env(self, job: Job, rank: int, count: int) -> dict[str, str]:
        """What DLC injects ("General environment variables", pai-api.md section 2.4): PyTorch-style
        jobs get MASTER_ADDR/PORT, WORLD_SIZE and RANK; TFJob gets TF_CONFIG and no RANK."""
        env = {"DLC_JOB_ID": job.job_id}
        if job.body["JobType"] == "TFJob":
            hosts = [f"127.0.0.1:{2222 + r}" for r in range(count)]
            env["TF_CONFIG"] = json.dumps(
                {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": rank}, "environment": "cloud"}
            )
            return env
        return {
            **env,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "23456",
            "WORLD_SIZE": str(count),
            "RANK": str(rank),
            "NPROC_PER_NODE": "1",
        }

    def _start_pods(self, job: Job) -> None:
        root = self.workdir / job.job_id
        root.mkdir(parents=True, exist_ok=True)
        mounts, targets = self._mounts(job, root)

        def remap(text: str) -> str:
            for mount in sorted(mounts, key=len, reverse=True):
                text = re.sub(re.escape(mount) + r"(?=/|\b|$)", str(mounts[mount]), text)
            # Any other /ml path (the config folder the command writes hyperparameters.json into)
            # goes to the pod's own /ml as well: a pod never reaches the host's /ml.
            return re.sub(r"(?<![\w./-])/ml/", f"{root}/ml/", text)

        spec = job.body["JobSpecs"][0]
        count = spec["PodCount"]
        bindir = root / "bin"
        bindir.mkdir(exist_ok=True)
        # The image's `python`: a wrapper, since a venv's interpreter must be run by its own path.
        (bindir / "python").write_text(f'#!/bin/sh\nexec "{self.python}" "$@"\n')
        (bindir / "python").chmod(0o755)
        site = self._install_libs(job, root, remap)
        (bindir / "sitecustomize.py").write_text(JINDOFUSE_EMULATION)
        append = bool((job.body.get("Settings") or {}).get("EnableOssAppend"))
        for rank in range(count):
            pod = Pod(f"{job.job_id}-worker-{rank}", rank, root / f"worker-{rank}.log")
            env = {
                "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(root),
                "PYTHONUNBUFFERED": "1",
                # loads the JindoFuse emulation (sitecustomize); then what _install_libs installed
                "PYTHONPATH": os.pathsep.join([str(bindir), str(site)]),
                "FAKE_JINDOFUSE_MOUNTS": os.pathsep.join(str(t) for t in targets),
                "FAKE_JINDOFUSE_APPEND": "1" if append else "0",
                **self._pod_env(job, rank, count),
            }
            env.update({k: remap(v) for k, v in (job.body.get("Envs") or {}).items()})
            with open(pod.log, "wb") as log:
                pod.proc = subprocess.Popen(
                    ["bash", "-c", remap(spec.get("UserCommand") or job.body["UserCommand"])],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=root,
                    start_new_session=True,
                )
            pod.status, pod.started = "Running", time.time()
            job.pods.append(pod)

    def _install_libs(self, job: Job, root: Path, remap: Any) -> Path:
        """DLC's third-party libraries, before UserCommand on each node: ``ThirdpartyLibs`` ("the list of
        Python third-party libraries to install") and ``ThirdpartyLibDir`` ("retrieves the
        requirements.txt file from the specified folder and runs ``pip install -r``"; both from the
        CreateJobRequest model, _create_job_request.py). The image is this interpreter, so what it
        already has at the asked version is skipped and the rest is installed with pip from
        ``wheelhouse`` into a folder on the pods' PYTHONPATH. A failed install fails the job, as
        the environment never became ready."""
        site = root / "site"
        site.mkdir(exist_ok=True)
        lines = [str(x) for x in job.body.get("ThirdpartyLibs") or []]
        lib_dir = job.body.get("ThirdpartyLibDir")
        if lib_dir:
            path = Path(remap(str(lib_dir).rstrip("/"))) / "requirements.txt"
            if not path.is_file():
                raise MountFailed(f"ThirdpartyLibDir {lib_dir} has no requirements.txt")
            lines += [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
        wanted = [ln for ln in lines if not ln.startswith("-") and not common.image_has(ln, self.python)]
        if not wanted:
            return site
        index = self.wheelhouse or (root / "empty-index")
        pip_target = ["--target", str(site), "--no-deps", *wanted]
        index.mkdir(exist_ok=True)
        proc = subprocess.run(
            [
                self.python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
                str(index),
                *pip_target,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise MountFailed(f"pip install failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        return site

    def _sample(self, job: Job) -> None:
        import psutil

        now = time.time()
        for pod in job.pods:
            if pod.proc is None or pod.proc.poll() is not None:
                continue
            last = pod.samples.get("CpuCoreUsage", [(0.0, 0.0)])[-1][0]
            if now - last < 0.2:
                continue
            try:
                proc = psutil.Process(pod.proc.pid)
                tree = [pod.procs.setdefault(p.pid, p) for p in (proc, *proc.children(recursive=True))]
                cpu = sum(p.cpu_percent(None) for p in tree)
                rss = sum(p.memory_info().rss for p in tree)
            except psutil.Error:
                continue
            pod.samples.setdefault("CpuCoreUsage", []).append((now, cpu))
            # GetJobMetrics reports memory as a utilisation percentage (pai-api.md section 9).
            total = psutil.virtual_memory().total
            pod.samples.setdefault("MemoryUsage", []).append((now, 100.0 * rss / total))


class MountFailed(Exception):
    """A data source could not be mounted; the job fails before it runs."""


# JindoFuse's OSS-mount semantics inside a pod (pai-api.md section 9: appends need
# Settings.EnableOssAppend; fsync works only for files opened for append), for Python code.
JINDOFUSE_EMULATION = """
import builtins, errno, fcntl, io, os
_ROOTS = [p for p in os.environ.get("FAKE_JINDOFUSE_MOUNTS", "").split(os.pathsep) if p]
_APPEND = os.environ.get("FAKE_JINDOFUSE_APPEND") == "1"
def _on_oss(path):
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in _ROOTS)
_open = builtins.open
def _guarded_open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and "a" in mode and not _APPEND and _on_oss(os.fsdecode(file)):
        raise OSError(errno.EOPNOTSUPP, "append is not supported on this OSS mount (Settings.EnableOssAppend)", file)
    return _open(file, mode, *args, **kwargs)
builtins.open = io.open = _guarded_open
_fsync = os.fsync
def _guarded_fsync(fd):
    fd = fd.fileno() if hasattr(fd, "fileno") else fd
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        path = ""
    if path and _on_oss(path) and not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
        raise OSError(errno.EIO, "fsync on an OSS mount needs a file opened for append")
    return _fsync(fd)
os.fsync = _guarded_fsync
"""


def parse_iso(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
