"""A fake PAI-DLC 2020-12-03 that really runs jobs, as local processes.

It speaks the ROA API the SDK sends (paths, methods, PascalCase JSON and
query keys, ACS3 signature headers) and checks every CreateJob body field by
field against the reference (§2.1/2.2): required fields, enum values, the
DisplayName rule, the 65,536-byte limit, and no field outside the documented
set. A job's pods are processes running ``UserCommand`` with DLC's injected
variables; its ``DataSources`` are "mounted" by linking the mount path to the
fake OSS folder of the URI (paths in the command and env are rewritten to
the job's folder, since /ml cannot be created here). States follow DLC:
Creating -> Queuing -> EnvPreparing -> Running -> Succeeded | Failed, or
Stopping -> Stopped. ``reclaim(job_id)`` kills the pods the way a spot reclaim
does: the job ends Failed with its pods' SubStatus ``Evicted``.
"""

from __future__ import annotations

import datetime as dt
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

from .common import FakeServer, Request, Response, acs_error, check_acs_signature, json_response, request_id
from .oss import FakeOss

VERSION = "2020-12-03"
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
CREATE_FIELDS = {
    "DisplayName",
    "JobType",
    "JobSpecs",
    "UserCommand",
    "WorkspaceId",
    "ResourceId",
    "Priority",
    "Envs",
    "DataSources",
    "CodeSource",
    "ThirdpartyLibs",
    "ThirdpartyLibDir",
    "JobMaxRunningTimeMinutes",
    "Settings",
    "UserVpc",
    "CredentialConfig",
    "Accessibility",
    "SuccessPolicy",
}
# Keys the SDK's models always serialise, as empty lists; allowed only when empty.
SDK_EMPTY_DEFAULTS = {"CustomEnvs", "ElasticSpotSpecs", "LocalMountSpecs", "StartupDependencies"}
JOBSPEC_FIELDS = {
    "Type",
    "Image",
    "PodCount",
    "EcsSpec",
    "ResourceConfig",
    "UseSpotInstance",
    "SpotSpec",
    "ElasticSpotSpecs",
    "RestartPolicy",
    "UserCommand",
    "ImageConfig",
    "IsChief",
}
RESOURCE_FIELDS = {"CPU", "GPU", "GPUType", "Memory", "SharedMemory"}
SPOT_FIELDS = {"SpotStrategy", "SpotDiscountLimit", "SpotPriceLimit"}
SETTINGS_FIELDS = {
    "EnableErrorMonitoringInAIMaster",
    "ErrorMonitoringArgs",
    "EnableSanityCheck",
    "SanityCheckArgs",
    "ElasticSpotJobMaxRestartTimes",
    "JobReservedMinutes",
    "JobReservedPolicy",
    "EnableRDMA",
    "OversoldType",
    "Tags",
    "AdvancedSettings",
}
DATASOURCE_FIELDS = {"DataSourceId", "Uri", "MountPath", "MountAccess", "Options"}
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
# Query keys each read action documents (reference §2.3); anything else is a contract break.
QUERY_KEYS = {
    "ListJobs": {
        "WorkspaceId",
        "DisplayName",
        "JobType",
        "Status",
        "StartTime",
        "EndTime",
        "PageNumber",
        "PageSize",
        "SortBy",
        "Order",
        "ShowOwn",
        "ResourceId",
        "PaymentType",
        "Tags",
    },
    "GetJob": set(),
    "GetPodLogs": {"MaxLines", "StartTime", "EndTime", "PodUid", "DownloadToFile"},
    "GetJobEvents": {"StartTime", "EndTime", "MaxEventsNum"},
    "GetJobMetrics": {"MetricType", "StartTime", "EndTime", "TimeStep"},
    "StopJob": set(),
    "CreateJob": set(),
    "DeleteJob": set(),
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")


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


def validate_create(body: Any, raw: bytes) -> str | None:
    """The first way ``body`` breaks the documented CreateJob contract, or None."""
    if len(raw) > 65536:
        return f"request body is {len(raw)} bytes; the limit is 65536"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    for key, value in body.items():
        if key not in CREATE_FIELDS and not (key in SDK_EMPTY_DEFAULTS and value in ([], None)):
            return f"unknown field {key}"
    for key in ("DisplayName", "JobType", "JobSpecs", "UserCommand"):
        if not body.get(key):
            return f"{key} is required"
    if not _NAME.match(body["DisplayName"]):
        return "DisplayName must be 1-256 of [A-Za-z0-9_.-]"
    if body["JobType"] not in JOB_TYPES:
        return f"JobType {body['JobType']} is not valid"
    if not 1 <= int(body.get("Priority", 1)) <= 9:
        return "Priority must be 1-9"
    for spec in body["JobSpecs"]:
        for key, value in spec.items():
            if key not in JOBSPEC_FIELDS and not (key in SDK_EMPTY_DEFAULTS and value in ([], None)):
                return f"unknown JobSpecs field {key}"
        if spec.get("Type") not in JOB_TYPES[body["JobType"]]:
            return f"role {spec.get('Type')} is not valid for {body['JobType']}"
        if not spec.get("Image") or not isinstance(spec.get("PodCount"), int) or spec["PodCount"] < 1:
            return "each JobSpecs entry needs Image and PodCount >= 1"
        if set(spec.get("ResourceConfig") or {}) - RESOURCE_FIELDS:
            return "unknown ResourceConfig field"
        for value in (spec.get("ResourceConfig") or {}).values():
            if not isinstance(value, str):
                return "ResourceConfig values are strings"
        if spec.get("SpotSpec"):
            if set(spec["SpotSpec"]) - SPOT_FIELDS:
                return "unknown SpotSpec field"
            if spec["SpotSpec"].get("SpotStrategy") not in ("SpotWithPriceLimit", "SpotAsPriceGo"):
                return "SpotStrategy is not valid"
            if not spec.get("UseSpotInstance"):
                return "SpotSpec without UseSpotInstance"
    for src in body.get("DataSources") or []:
        if set(src) - DATASOURCE_FIELDS:
            return "unknown DataSources field"
        if bool(src.get("Uri")) == bool(src.get("DataSourceId")):
            return "a data source needs exactly one of Uri and DataSourceId"
        if not str(src.get("MountPath", "")).startswith("/") or src.get("MountAccess", "RO") not in ("RO", "RW"):
            return "MountPath must be absolute and MountAccess RO or RW"
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

    def __init__(self, oss: FakeOss, workdir: Path, python: str = sys.executable, step: float = 0.05) -> None:
        super().__init__()
        self.oss = oss
        self.workdir = workdir
        self.python = python
        self.step = step  # seconds between the states before Running
        self.jobs: dict[str, Job] = {}
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
        problem = validate_create(body, req.body)
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
        if q.get("DisplayName"):
            jobs = [j for j in jobs if q["DisplayName"] in j.body["DisplayName"]]
        if q.get("Status"):
            jobs = [j for j in jobs if j.status == q["Status"]]
        if q.get("JobType"):
            jobs = [j for j in jobs if j.body["JobType"] == q["JobType"]]
        page, size = int(q.get("PageNumber") or 1), int(q.get("PageSize") or 50)
        chosen = jobs[(page - 1) * size : page * size]
        return json_response(
            {"Jobs": [self.item(j) for j in chosen], "TotalCount": len(jobs), "RequestId": request_id()}
        )

    def item(self, job: Job) -> dict[str, Any]:
        b = job.body
        return {
            "JobId": job.job_id,
            "DisplayName": b["DisplayName"],
            "JobType": b["JobType"],
            "JobSpecs": b["JobSpecs"],
            "UserCommand": b["UserCommand"],
            "Envs": b.get("Envs") or {},
            "DataSources": b.get("DataSources") or [],
            "Settings": b.get("Settings") or {},
            "WorkspaceId": b.get("WorkspaceId", ""),
            "ResourceId": b.get("ResourceId", ""),
            "Priority": b.get("Priority", 1),
            "JobMaxRunningTimeMinutes": b.get("JobMaxRunningTimeMinutes", 0),
            "ResourceType": "ECS",
            "Status": job.status,
            "SubStatus": "",
            "ReasonCode": job.reason_code,
            "ReasonMessage": job.reason_message,
            "StatusHistory": job.history,
            "EnablePreemptibleJob": any(s.get("UseSpotInstance") for s in b["JobSpecs"]),
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
                    "PodUid": f"uid-{p.pod_id}",
                    "Type": "Worker",
                    "Status": p.status,
                    "SubStatus": p.sub_status,
                    "Ip": "127.0.0.1",
                    "GmtCreateTime": iso(job.created),
                    "GmtStartTime": iso(p.started),
                    "GmtFinishTime": iso(p.finished),
                    "HistoryPods": [],
                }
                for p in job.pods
            ],
        }

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
        """The spot instance under the job is reclaimed: pods die at once, the job fails."""
        with self.lock:
            job = self.jobs[job_id]
            job.reclaimed = True
            for pod in job.pods:
                pod.sub_status = "Evicted"
                if pod.proc and pod.proc.poll() is None:
                    os.killpg(pod.proc.pid, signal.SIGKILL)

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
                    self._start_pods(job)
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
                self._transition(
                    job, "Failed", "JobFailed", "pod(s) " + ", ".join(p.pod_id for p in job.pods) + " were evicted"
                )
                job.events.append(f"{iso(time.time())} Warning PodEvicted spot instance reclaimed")
            elif job.stop_requested:
                self._transition(job, "Stopped", "JobStopped", "stopped by user")
            elif all(c == 0 for c in codes):
                self._transition(job, "Succeeded")
            else:
                bad = next(p for p, c in zip(job.pods, codes, strict=True) if c != 0)
                self._transition(
                    job, "Failed", "JobFailed", f"pod {bad.pod_id} exited with code {bad.proc.poll()}"
                )

    def _mounts(self, job: Job, root: Path) -> dict[str, Path]:
        mounts: dict[str, Path] = {}
        for src in job.body.get("DataSources") or []:
            uri = src["Uri"]
            if not uri.startswith("oss://"):
                raise ValueError(f"fake DLC mounts only oss:// URIs, got {uri}")
            bucket, _, key = uri[len("oss://") :].partition("/")
            bucket = bucket.split(".", 1)[0]
            target = self.oss.path(bucket, key.rstrip("/")) if key else self.oss.root / bucket
            if src.get("MountAccess") == "RW":
                target.mkdir(parents=True, exist_ok=True)
            local = root / src["MountPath"].lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.symlink_to(target, target_is_directory=True)
            mounts[src["MountPath"].rstrip("/")] = local
        return mounts

    def _start_pods(self, job: Job) -> None:
        root = self.workdir / job.job_id
        root.mkdir(parents=True, exist_ok=True)
        mounts = self._mounts(job, root)

        def remap(text: str) -> str:
            for mount in sorted(mounts, key=len, reverse=True):
                text = re.sub(re.escape(mount) + r"(?=/|\b|$)", str(mounts[mount]), text)
            return text

        spec = job.body["JobSpecs"][0]
        count = spec["PodCount"]
        bindir = root / "bin"
        bindir.mkdir(exist_ok=True)
        # The image's `python`: a wrapper, since a venv's interpreter must be run by its own path.
        (bindir / "python").write_text(f'#!/bin/sh\nexec "{self.python}" "$@"\n')
        (bindir / "python").chmod(0o755)
        for rank in range(count):
            pod = Pod(f"{job.job_id}-worker-{rank}", rank, root / f"worker-{rank}.log")
            env = {
                "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(root),
                "PYTHONUNBUFFERED": "1",
                "DLC_JOB_ID": job.job_id,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "23456",
                "WORLD_SIZE": str(count),
                "RANK": str(rank),
                "NPROC_PER_NODE": "1",
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
            pod.samples.setdefault("MemoryUsage", []).append((now, rss / 2**20))


def parse_iso(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
