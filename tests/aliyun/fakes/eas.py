"""A fake PAI-EAS 2021-07-01: the control API the SDK sends, plus a data plane that RUNS the model.

Control (ROA, ACS3-signed, ``{ClusterId}`` = region): CreateService with the
service JSON checked against the documentation (reference section 3.2:
documented keys only, a name EAS accepts, ``metadata.instance``, reserved
ports; built-in processor codes from the built-in processor list; label
limits), DescribeService, ListServices (``GroupName``), DeleteService,
ReleaseService (``Weight`` -1..1000, ``TrafficState`` standalone|grouping),
the autoscaler (camelCase), DescribeServiceEndpoints, and the group actions
DescribeGroup / UpdateGroup (``TrafficMode`` auto|customized).

Data plane: ``POST /api/predict/<service or group>[/<rest>]``.
- A custom-container service is started as EAS starts it (the service
  deployment doc: pull the image, mount storage, install
  ``prepare.pythonRequirements``, run the command, serve once the port
  answers): its ``storage[]`` OSS mounts become the fake OSS's folders, its
  command runs as a real process on a free port given in ``LISTENING_PORT``,
  and requests are forwarded to it as ``/<rest>``. So a prediction is the
  deployed model's own answer, computed by the container's code.
- A built-in processor answers only protobuf (PyTorch processor doc: the
  request is a ``TorchRequest``; the TensorFlow processor takes ``TFRequest``):
  a JSON body gets 400.
- A group routes to its ``grouping`` members by instance count in
  ``TrafficMode`` auto and by ``Weight`` only in customized (service group doc,
  Group struct doc), and checks the group's own ``AccessToken``.
Test knobs: ``Service.behavior`` (``latency_ms``, ``error_rate``) makes a
member slow or failing so rollout gates can trip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from . import common
from .common import FakeServer, Request, Response, acs_error, check_acs_signature, json_response, request_id
from .oss import FakeOss

VERSION = "2021-07-01"
SERVICE_KEYS = {
    "name",
    "token",
    "processor",
    "model_path",
    "oss_endpoint",
    "model_entry",
    "model_config",
    "processor_path",
    "processor_entry",
    "processor_type",
    "warm_up_data_path",
    "containers",
    "storage",
    "cloud",
    "networking",
    "autoscaler",
    "metadata",
    "labels",
}
METADATA_KEYS = {
    "instance",
    "cpu",
    "memory",
    "gpu",
    "gpu_memory",
    "shm_size",
    "cuda",
    "resource",
    "resource_burstable",
    "workspace_id",
    "enable_grpc",
    "enable_webservice",
    "type",
    "rpc",
    "rolling_strategy",
    "eas",
    "name",
    "group",  # group membership: UNCONFIRMED key in the reference (§3.5)
}
CONTAINER_KEYS = {"image", "command", "script", "port", "env", "prepare", "dockerAuth"}
# Built-in processor codes (reference section 3.3, the built-in processors doc); there is
# no "onnx", "onnx_cu100" or "xgboost" among them (reference section 9).
BUILTIN_CODES = {
    "pmml",
    "triton",
    "mediaflow",
    "alink_pai_processor",
    "caffe_cpu",
    "caffe_gpu",
    "easynlp",
    "easycv",
    "easytransfer_cpu",
    "easytransfer_gpu",
    "blade_cpu",
    "easyrec-2.4",
    "easyrec-torch-1.0",
    "tensorflow_cpu_2.3",
    *(f"tensorflow_{d}_{v}" for d in ("cpu", "gpu") for v in ("1.12", "1.14", "1.15")),
    *(f"pytorch_{d}_{v}" for d in ("cpu", "gpu") for v in ("1.6", "1.7", "1.9", "1.10")),
}
# What the documented general Python image (python-inference:py39-ubuntu2004) lacks and a
# container must install through prepare.pythonRequirements before it imports them; like NumPy,
# the HTTP packages our model server imports are not part of a general Python image.
IMAGE_LACKS = {"numpy", "httptools", "multidict", "onnxruntime", "torch", "tensorflow", "scikit-learn", "xgboost"}
# What our model server imports beyond the standard library (serving/model_server.py, http1.py).
SERVER_IMPORTS = ("numpy", "httptools", "multidict")
QPS_WINDOW = 10.0
LABEL_MAX = 128  # label keys and values: at most 128 bytes, no ',' or '=' (UpdateServiceLabel doc)
SCALE_METRICS = {"qps", "cpu", "gpu", "gpu[util]"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass
class Group:
    """The Group struct (``AccessToken``, endpoints, ``TrafficMode``); default mode auto."""

    name: str
    token: str
    created: float
    traffic_mode: str = "auto"


@dataclass
class Service:
    name: str
    config: dict[str, Any]
    token: str
    created: float
    status: str = "Creating"
    reason: str = ""
    weight: int = 0
    traffic_state: str = "standalone"
    autoscaler: dict[str, Any] | None = None
    behavior: dict[str, float] = field(default_factory=dict)  # latency_ms, error_rate
    served: int = 0
    routed: int = 0  # of those, how many came through the group endpoint
    hits: list[float] = field(default_factory=list)  # request times, for CurrentMetrics QPS
    proc: subprocess.Popen | None = None  # the running container, for custom-container services
    port: int = 0
    log: Path | None = None

    @property
    def group(self) -> str:
        return str((self.config.get("metadata") or {}).get("group") or "")

    @property
    def instances(self) -> int:
        return int(self.config["metadata"]["instance"])


def validate_service(config: Any) -> str | None:
    if not isinstance(config, dict):
        return "the service JSON must be an object"
    unknown = set(config) - SERVICE_KEYS
    if unknown:
        return f"unknown service field(s) {sorted(unknown)}"
    if not _NAME.match(str(config.get("name", ""))):
        return "name must be lowercase letters, digits and '_', starting with a letter"
    if not config.get("processor") and not config.get("containers"):
        return "a service needs processor or containers"
    if config.get("processor") and not config.get("model_path"):
        return "a processor service needs model_path"
    if config.get("processor") and config["processor"] not in BUILTIN_CODES:
        return f"processor {config['processor']!r} is not a built-in processor code"
    meta = config.get("metadata") or {}
    if "instance" not in meta:
        return "metadata.instance is required"
    if set(meta) - METADATA_KEYS:
        return f"unknown metadata field(s) {sorted(set(meta) - METADATA_KEYS)}"
    for c in config.get("containers") or []:
        if set(c) - CONTAINER_KEYS:
            return f"unknown container field(s) {sorted(set(c) - CONTAINER_KEYS)}"
        if c.get("port") in (8080, 9090):
            return "ports 8080 and 9090 are reserved"
        if bool(c.get("command")) == bool(c.get("script")):
            return "a container needs command or script"
    for s in config.get("storage") or []:
        if not str(s.get("mount_path", "")).startswith("/"):
            return "storage mount_path must be absolute"
    labels = config.get("labels") or {}
    if not all(isinstance(v, str) for v in labels.values()):
        return "labels are strings"
    for key, value in labels.items():
        for text in (key, value):
            if len(text.encode()) > LABEL_MAX or "," in text or "=" in text:
                return f"label {key!r}: keys and values take at most {LABEL_MAX} bytes and no ',' or '='"
    return None


def validate_autoscaler(body: Any) -> str | None:
    if not isinstance(body, dict) or set(body) - {"min", "max", "scaleStrategies", "behavior"}:
        return "autoscaler body keys are min, max, scaleStrategies, behavior (camelCase)"
    if not isinstance(body.get("min"), int) or not isinstance(body.get("max"), int):
        return "min and max are integers"
    if not 0 <= body["min"] <= body["max"] <= 1000:
        return "0 <= min <= max <= 1000"
    for s in body.get("scaleStrategies") or []:
        if s.get("metricName") not in SCALE_METRICS or not isinstance(s.get("threshold"), (int, float)):
            return "scaleStrategies need metricName (qps|cpu|gpu[util]) and a threshold"
    behavior = body.get("behavior") or {}
    if set(behavior) - {"scaleUp", "scaleDown", "onZero"}:
        return "behavior keys are scaleUp, scaleDown, onZero"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeEas(FakeServer):
    name = "fake-eas"

    def __init__(
        self,
        oss: FakeOss | None = None,
        region: str = "cn-hangzhou",
        step: float = 0.1,
        start_timeout: float = 90.0,
    ) -> None:
        super().__init__()
        self.oss = oss
        self.region = region
        self.step = step
        self.start_timeout = start_timeout
        self.services: dict[str, Service] = {}
        self.groups: dict[str, Group] = {}
        self.errors: list[str] = []
        self.rng = random.Random(7)
        self._stop = threading.Event()
        self._starting: set[str] = set()
        self._session = requests.Session()
        threading.Thread(target=self._tick_loop, name="fake-eas-tick", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            services = list(self.services.values())
        for svc in services:
            self._kill(svc)
        super().stop()

    def url(self, name: str) -> str:
        return f"http://{self.endpoint}/api/predict/{name}"

    # -- running containers ----------------------------------------------------------------
    def _tick_loop(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                due = [
                    s
                    for s in self.services.values()
                    if s.status == "Creating"
                    and time.time() - s.created >= self.step
                    and s.name not in self._starting
                ]
                for svc in due:
                    self._starting.add(svc.name)
            for svc in due:
                threading.Thread(target=self._start, args=(svc,), name=f"fake-eas-{svc.name}", daemon=True).start()

    def _start(self, svc: Service) -> None:
        try:
            problem = self._launch(svc) if svc.config.get("containers") else None
        except Exception as exc:  # a bug in the fake: make it visible
            problem = f"fake bug: {exc!r}"
        with self.lock:
            self._starting.discard(svc.name)
            if problem:
                svc.status, svc.reason = "Failed", problem
                self._kill(svc)
            elif svc.name in self.services:
                svc.status = "Running"

    def _local(self, oss_path: str) -> Path:
        m = re.fullmatch(r"oss://([^/]+)/?(.*)", oss_path)
        if not m or self.oss is None:
            raise ValueError(f"storage path {oss_path!r} is not an oss:// path this fake can mount")
        return self.oss.path(m.group(1), m.group(2))

    def _launch(self, svc: Service) -> str | None:
        """Start the container as EAS does (service deployment doc); None when it serves."""
        (container,) = svc.config["containers"]
        mounts: dict[str, Path] = {}
        for item in svc.config.get("storage") or []:
            oss = item.get("oss") or {}
            local = self._local(str(oss.get("path", "")))
            if not local.exists():
                return f"mount {item['mount_path']}: {oss.get('path')} does not exist"
            mounts[str(item["mount_path"]).rstrip("/")] = local

        def mapped(text: str) -> str:
            for mount, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
                text = re.sub(re.escape(mount) + r"(?=/|$|:|\s)", str(local), text)
            return text

        env = {str(e["name"]): mapped(str(e["value"])) for e in container.get("env") or []}
        wanted = [
            re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower()
            for r in (container.get("prepare") or {}).get("pythonRequirements", [])
        ]
        shim = None
        if container.get("script"):
            # A container's ``script`` is a shell script (the PAI SDK's container_serving_spec writes
            # "cd /ml/usercode\n<command>"), run by the image's shell with the image's `python`.
            missing = [
                r
                for r in (container.get("prepare") or {}).get("pythonRequirements", [])
                if not common.image_has(r, sys.executable)
            ]
            if missing:
                return f"the container exited: pip could not install {missing} (this fake installs nothing)"
            shim = Path(tempfile.mkdtemp(prefix=f"fake-eas-{svc.name}-bin-"))
            (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            (shim / "python").chmod(0o755)
            argv = ["/bin/sh", "-c", mapped(str(container["script"]))]
        else:
            argv = shlex.split(mapped(str(container.get("command"))))
        if argv[:2] == ["python", "-m"]:
            module = argv[2].split(".")[0]
            paths = [Path(d) for d in env.get("PYTHONPATH", "").split(":") if d]
            if not any((d / module).is_dir() for d in paths):
                return f"the container exited: ModuleNotFoundError: No module named '{module}'"
            for need in SERVER_IMPORTS:  # the image has none of them
                if need not in wanted:
                    return f"the container exited: ModuleNotFoundError: No module named '{need}'"
            proc_name = env.get("PAI_PROCESSOR", "")
            framework = {
                "onnx": "onnxruntime",
                "torchscript": "torch",
                "tensorflow": "tensorflow",
                "sklearn": "scikit-learn",
                "xgboost": "xgboost",
            }.get(proc_name)
            if framework and not any(w.startswith(framework) for w in wanted):
                return f"the container exited: the {proc_name} runtime needs {framework} installed (prepare)"
            argv = [sys.executable, *argv[1:]]
        svc.port = _free_port()
        env.update(LISTENING_PORT=str(svc.port), PAI_LISTEN_HOST="127.0.0.1", PYTHONUNBUFFERED="1")
        # The container sees only its own environment plus what the image has (a Python with
        # site-packages): PYTHONPATH from the service JSON comes first, so the mounted runtime
        # is imported, not an installed pai_jupyter.
        full = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")} | env
        if shim is not None:
            full["PATH"] = f"{shim}{os.pathsep}{full.get('PATH', '/usr/bin:/bin')}"
        svc.log = Path(tempfile.mkstemp(prefix=f"fake-eas-{svc.name}-", suffix=".log")[1])
        with svc.log.open("wb") as out:
            svc.proc = subprocess.Popen(
                argv, env=full, stdout=out, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir()
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if svc.proc.poll() is not None:
                tail = svc.log.read_text(errors="replace").strip().splitlines()
                return "the container exited: " + (tail[-1] if tail else f"code {svc.proc.returncode}")
            try:
                if self._session.get(f"http://127.0.0.1:{svc.port}/", timeout=1).status_code < 500:
                    return None
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return f"the container did not listen on {svc.port} within {self.start_timeout:g}s"

    def _kill(self, svc: Service) -> None:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.proc.terminate()
            try:
                svc.proc.wait(5)
            except subprocess.TimeoutExpired:
                svc.proc.kill()
        if svc.log is not None:
            svc.log.unlink(missing_ok=True)

    # -- dispatch -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path.startswith("/api/predict/"):
            return self.predict(req)
        bad = check_acs_signature(req, VERSION)
        if bad:
            return bad
        action = req.headers["x-acs-action"]
        if req.path.startswith("/api/v2/groups/"):
            return self.group_action(req, action)
        if req.path == "/api/v2/services":
            expected = {"POST": "CreateService", "GET": "ListServices"}.get(req.method)
            if expected != action:
                return self._mismatch(req, action, expected)
            allowed = (
                {"Labels", "WorkspaceId", "Develop"}
                if expected == "CreateService"
                else {
                    "Filter",
                    "GroupName",
                    "ServiceStatus",
                    "PageNumber",
                    "PageSize",
                    "Order",
                    "Sort",
                    "WorkspaceId",
                }
            )
            if set(req.query) - allowed:
                self.errors.append(f"{expected}: undocumented query key(s) {sorted(set(req.query) - allowed)}")
                return acs_error(400, "InvalidParameter", "unknown query parameter")
            return self.create(req) if req.method == "POST" else self.list(req)
        m = re.fullmatch(r"/api/v2/services/([^/]+)/([^/]+)(/[a-z]+)?", req.path)
        if not m:
            return acs_error(404, "InvalidAction.NotFound", f"no route {req.method} {req.path}")
        cluster, name, sub = m.group(1), m.group(2), m.group(3) or ""
        expected = {
            ("GET", ""): "DescribeService",
            ("DELETE", ""): "DeleteService",
            ("PUT", "/release"): "ReleaseService",
            ("GET", "/endpoints"): "DescribeServiceEndpoints",
            ("POST", "/autoscaler"): "CreateServiceAutoScaler",
            ("PUT", "/autoscaler"): "UpdateServiceAutoScaler",
            ("GET", "/autoscaler"): "DescribeServiceAutoScaler",
            ("DELETE", "/autoscaler"): "DeleteServiceAutoScaler",
        }.get((req.method, sub))
        if expected != action:
            return self._mismatch(req, action, expected)
        if cluster != self.region:
            self.errors.append(f"{action}: ClusterId {cluster!r} is not the region")
            return acs_error(400, "InvalidParameter", f"cluster {cluster} does not exist")
        with self.lock:
            svc = self.services.get(name)
        if svc is None:
            return acs_error(404, "ServiceNotFound", f"service {name} does not exist")
        if action == "DescribeService":
            return json_response({**self.describe(svc), "RequestId": request_id()})
        if action == "DeleteService":
            with self.lock:
                del self.services[name]
                # A group is deleted with its last member (service group doc).
                if svc.group and not any(s.group == svc.group for s in self.services.values()):
                    self.groups.pop(svc.group, None)
            self._kill(svc)
            return json_response({"Message": f"service {name} deleted", "RequestId": request_id()})
        if action == "ReleaseService":
            return self.release(req, svc)
        if action == "DescribeServiceEndpoints":
            return json_response(
                {
                    "AccessToken": svc.token,
                    "Endpoints": [{"InternetEndpoints": [self.url(name)], "IntranetEndpoints": [self.url(name)]}],
                    "RequestId": request_id(),
                }
            )
        return self.autoscaler(req, svc, action)

    def _mismatch(self, req: Request, action: str, expected: str | None) -> Response:
        self.errors.append(f"{req.method} {req.path} sent x-acs-action {action}, expected {expected}")
        return acs_error(400, "InvalidAction", "action does not match the path")

    # -- groups ---------------------------------------------------------------------------
    def group_action(self, req: Request, action: str) -> Response:
        """DescribeGroup ``GET`` / UpdateGroup ``PUT /api/v2/groups/{ClusterId}/{GroupName}`` (API docs)."""
        m = re.fullmatch(r"/api/v2/groups/([^/]+)/([^/]+)", req.path)
        expected = {"GET": "DescribeGroup", "PUT": "UpdateGroup"}.get(req.method)
        if not m or expected != action:
            return self._mismatch(req, action, expected)
        if m.group(1) != self.region:
            self.errors.append(f"{action}: ClusterId {m.group(1)!r} is not the region")
            return acs_error(400, "InvalidParameter", "cluster does not exist")
        with self.lock:
            group = self.groups.get(m.group(2))
        if group is None:
            return acs_error(404, "GroupNotFound", f"group {m.group(2)} does not exist")
        if action == "UpdateGroup":
            body = req.json or {}
            # UpdateGroup body: TrafficMode (auto|customized), Network, Labels (API doc).
            if set(body) - {"TrafficMode", "Network", "Labels"} or body.get("TrafficMode") not in (
                None,
                "auto",
                "customized",
            ):
                self.errors.append(f"UpdateGroup: bad body {body}")
                return acs_error(400, "InvalidParameter", "TrafficMode is auto or customized")
            if body.get("TrafficMode"):
                group.traffic_mode = body["TrafficMode"]
            return json_response(
                {"Message": f"Update service group {group.name} successfully", "RequestId": request_id()}
            )
        return json_response(
            {
                "Name": group.name,
                "ClusterId": self.region,
                "AccessToken": group.token,
                "InternetEndpoint": self.url(group.name),
                "IntranetEndpoint": self.url(group.name),
                "TrafficMode": group.traffic_mode,
                "QueueService": "",
                "CreateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(group.created)),
                "UpdateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "RequestId": request_id(),
            }
        )

    # -- control ------------------------------------------------------------------------
    def create(self, req: Request) -> Response:
        try:
            config = json.loads(req.body)
        except ValueError:
            return acs_error(400, "InvalidParameter", "the body is not a JSON service config")
        problem = validate_service(config)
        if problem:
            self.errors.append(f"CreateService: {problem}")
            return acs_error(400, "InvalidParameter", problem)
        name = config["name"]
        with self.lock:
            if name in self.services:
                return acs_error(400, "ServiceAlreadyExists", f"service {name} already exists")
            svc = Service(name, config, config.get("token") or secrets.token_urlsafe(24), time.time())
            scaler = config.get("autoscaler")
            if scaler:  # the service JSON's autoscaler {min, max, strategies} (reference section 3.2)
                svc.autoscaler = {
                    "min": scaler.get("min"),
                    "max": scaler.get("max"),
                    "scaleStrategies": [
                        {"metricName": k, "threshold": v} for k, v in (scaler.get("strategies") or {}).items()
                    ],
                    "behavior": scaler.get("behavior") or {},
                }
            self.services[name] = svc
            # A group is created when the first service names it, with its own token (group doc).
            if svc.group and svc.group not in self.groups:
                self.groups[svc.group] = Group(svc.group, secrets.token_urlsafe(24), time.time())
        return json_response(
            {
                "ServiceId": "eas-m-" + secrets.token_hex(6),
                "ServiceName": name,
                "Status": svc.status,
                "Region": self.region,
                "InternetEndpoint": self.url(name),
                "IntranetEndpoint": self.url(name),
                "RequestId": request_id(),
            }
        )

    def describe(self, svc: Service) -> dict[str, Any]:
        running = svc.instances if svc.status == "Running" else 0
        return {
            "ServiceName": svc.name,
            "Status": svc.status,
            "Reason": svc.reason,
            "InternetEndpoint": self.url(svc.name),
            "IntranetEndpoint": self.url(svc.name),
            "AccessToken": svc.token,
            "ServiceConfig": json.dumps(svc.config),
            "CurrentVersion": 1,
            "LatestVersion": 1,
            "RunningInstance": running,
            "TotalInstance": svc.instances,
            "ServiceGroup": svc.group,
            "Weight": svc.weight,
            "TrafficState": svc.traffic_state,
            "Region": self.region,
            "CreateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(svc.created)),
            "Labels": [{"LabelKey": k, "LabelValue": v} for k, v in (svc.config.get("labels") or {}).items()],
        }

    def list(self, req: Request) -> Response:
        group = req.query.get("GroupName")
        with self.lock:
            items = [s for s in self.services.values() if not group or s.group == group]
        size = int(req.query.get("PageSize") or 100)
        page = int(req.query.get("PageNumber") or 1)
        chosen = items[(page - 1) * size : page * size]
        return json_response(
            {
                "Services": [self.describe(s) for s in chosen],
                "TotalCount": len(items),
                "PageNumber": page,
                "PageSize": size,
                "RequestId": request_id(),
            }
        )

    def release(self, req: Request, svc: Service) -> Response:
        body = req.json or {}
        if set(body) - {"Weight", "TrafficState"}:
            self.errors.append(f"ReleaseService: unknown keys {sorted(body)}")
            return acs_error(400, "InvalidParameter", "ReleaseService takes Weight and TrafficState")
        weight, state = body.get("Weight"), body.get("TrafficState")
        if not isinstance(weight, int) or not -1 <= weight <= 1000 or state not in ("standalone", "grouping"):
            self.errors.append(f"ReleaseService: bad body {body}")
            return acs_error(
                400, "InvalidParameter", "Weight must be -1..1000 and TrafficState standalone|grouping"
            )
        with self.lock:
            svc.weight, svc.traffic_state = weight, state
        return json_response({"Message": "released", "RequestId": request_id()})

    def autoscaler(self, req: Request, svc: Service, action: str) -> Response:
        if action == "DescribeServiceAutoScaler":
            # The API doc lists no "not found" error for a service without an autoscaler; the
            # fake answers the documented body (SDK DescribeServiceAutoScalerResponseBody) empty.
            a = svc.autoscaler or {"min": 0, "max": 0}
            return json_response(
                {
                    "ServiceName": svc.name,
                    "MinReplica": a["min"],
                    "MaxReplica": a["max"],
                    "Behavior": a.get("behavior", {}),
                    "ScaleStrategies": a.get("scaleStrategies", []),
                    # The fake's own QPS estimate: requests over the last QPS_WINDOW seconds.
                    "CurrentMetrics": [
                        {
                            "metricName": "QPS",
                            "value": len([t for t in svc.hits if t > time.time() - QPS_WINDOW]) / QPS_WINDOW,
                        }
                    ]
                    if svc.autoscaler
                    else [],
                    "RequestId": request_id(),
                }
            )
        if action == "DeleteServiceAutoScaler":
            svc.autoscaler = None
            return json_response({"Message": "deleted", "RequestId": request_id()})
        if action == "UpdateServiceAutoScaler" and svc.autoscaler is None:
            return acs_error(404, "AutoscalerNotFound", f"service {svc.name} has no autoscaler")
        body = req.json
        problem = validate_autoscaler(body)
        if problem:
            self.errors.append(f"{action}: {problem}")
            return acs_error(400, "InvalidParameter", problem)
        svc.autoscaler = body
        return json_response({"Message": "ok", "RequestId": request_id()})

    # -- data plane -------------------------------------------------------------------------
    @staticmethod
    def _authorized(req: Request, token: str) -> bool:
        """The raw token, or the eas-prediction signature (reference section 3.8)."""
        auth = req.headers.get("authorization", "")
        if hmac.compare_digest(auth, token):
            return True
        if not auth.startswith("EAS "):
            return False
        md5 = req.headers.get("content-md5", "")
        if md5 != hashlib.md5(req.body).hexdigest():
            return False
        text = f"POST\n{md5}\n{req.headers.get('content-type', '')}\n{req.headers.get('date', '')}\n{req.path}"
        digest = hmac.new(token.encode(), text.strip().encode(), hashlib.sha1).digest()
        return hmac.compare_digest(auth[4:], base64.b64encode(digest).decode())

    def _pick(self, group: Group) -> Service | None:
        members = [
            s
            for s in self.services.values()
            if s.group == group.name and s.traffic_state == "grouping" and s.status == "Running"
        ]
        # auto: by instance count; customized: by Weight (UpdateGroup / Group struct docs).
        share = {s.name: (s.instances if group.traffic_mode == "auto" else max(s.weight, 0)) for s in members}
        members = [s for s in members if share[s.name] > 0]
        if not members:
            return None
        pick = self.rng.uniform(0, sum(share[s.name] for s in members))
        for svc in members:
            pick -= share[svc.name]
            if pick <= 0:
                return svc
        return members[-1]

    def predict(self, req: Request) -> Response:
        name, _, rest = req.path[len("/api/predict/") :].partition("/")
        with self.lock:
            svc = self.services.get(name)
            group = self.groups.get(name) if svc is None else None
        if svc is None and group is None:
            return Response(404, b"no service or group " + name.encode())
        if not self._authorized(req, svc.token if svc is not None else group.token):  # type: ignore[union-attr]
            return Response(401, b"invalid token")
        if group is not None:
            with self.lock:
                svc = self._pick(group)
                if svc is not None:
                    svc.routed += 1
            if svc is None:
                return Response(503, b"no member of the group takes traffic")
        assert svc is not None
        if svc.status != "Running":
            return Response(503, b"service is not running")
        time.sleep(svc.behavior.get("latency_ms", 0) / 1000)
        with self.lock:
            svc.served += 1
            svc.hits = [t for t in svc.hits if t > time.time() - QPS_WINDOW] + [time.time()]
        if self.rng.random() < svc.behavior.get("error_rate", 0.0):
            return Response(500, b"model error")
        if svc.proc is None:
            code = str(svc.config.get("processor", ""))
            if code.startswith(("pytorch_", "tensorflow_")):
                # Built-in PyTorch / TensorFlow processors speak protobuf only (processor docs).
                return Response(400, f"{code}: the request is not a valid protobuf request".encode())
            return Response(501, f"the fake does not run processor {code!r}".encode())
        # EAS forwards /api/predict/<service>/<rest> to the container as /<rest>.
        try:
            resp = self._session.post(
                f"http://127.0.0.1:{svc.port}/{rest}",
                data=req.body,
                headers={"Content-Type": req.headers.get("content-type", "application/octet-stream")},
                timeout=60,
            )
        except requests.RequestException as exc:
            return Response(502, f"the container did not answer: {exc}".encode())
        return Response(resp.status_code, resp.content, {"Content-Type": resp.headers.get("Content-Type", "")})
