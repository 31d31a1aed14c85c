"""A fake PAI-EAS 2021-07-01: the control API the SDK sends, plus the data plane.

Control (ROA, ACS3-signed, ``{ClusterId}`` = region): CreateService with the
service JSON checked against the reference (§3.2: documented keys only, a
name EAS accepts, ``metadata.instance``, reserved ports), DescribeService,
ListServices (``GroupName``), DeleteService, ReleaseService (``Weight``
-1..1000, ``TrafficState`` standalone|grouping, PascalCase), the autoscaler
(camelCase ``min``/``max``/``scaleStrategies``/``behavior``), and
DescribeServiceEndpoints. Services go Creating -> Running (or Failed when the
model path contains ``broken``).

Data plane: ``POST /api/predict/<service>`` with the raw token; a group name
routes to its ``grouping`` members in proportion to their weights. Each
member's ``behavior`` (latency, error rate) is set by the test, so rollout
gates can pass or trip.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

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
SCALE_METRICS = {"qps", "cpu", "gpu", "gpu[util]"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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


class FakeEas(FakeServer):
    name = "fake-eas"

    def __init__(self, oss: FakeOss | None = None, region: str = "cn-hangzhou", step: float = 0.1) -> None:
        super().__init__()
        self.oss = oss
        self.region = region
        self.step = step
        self.services: dict[str, Service] = {}
        self.errors: list[str] = []
        self.rng = random.Random(7)
        self._stop = threading.Event()
        threading.Thread(target=self._tick_loop, name="fake-eas-tick", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        super().stop()

    def url(self, name: str) -> str:
        return f"http://{self.endpoint}/api/predict/{name}"

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                for svc in self.services.values():
                    if svc.status == "Creating" and time.time() - svc.created >= self.step:
                        if "broken" in str(svc.config.get("model_path", "")):
                            svc.status, svc.reason = "Failed", "the processor could not load the model"
                        else:
                            svc.status = "Running"

    # -- dispatch -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path.startswith("/api/predict/"):
            return self.predict(req)
        bad = check_acs_signature(req, VERSION)
        if bad:
            return bad
        action = req.headers["x-acs-action"]
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
            self.services[name] = svc
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
            if svc.autoscaler is None:
                return acs_error(404, "AutoscalerNotFound", f"service {svc.name} has no autoscaler")
            a = svc.autoscaler
            return json_response(
                {
                    "ServiceName": svc.name,
                    "MinReplica": a["min"],
                    "MaxReplica": a["max"],
                    "Behavior": a.get("behavior", {}),
                    "ScaleStrategies": a.get("scaleStrategies", []),
                    "CurrentMetrics": [{"metricName": "QPS", "value": 0}],
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
        """The raw token, or the eas-prediction signature (reference §3.8)."""
        import base64
        import hashlib
        import hmac

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

    def predict(self, req: Request) -> Response:
        name = req.path[len("/api/predict/") :].split("/", 1)[0]
        with self.lock:
            svc = self.services.get(name)
            if svc is None:
                members = [s for s in self.services.values() if s.group == name and s.traffic_state == "grouping"]
                members = [s for s in members if s.weight > 0 and s.status == "Running"]
                if not members:
                    return Response(404, b"no service or group " + name.encode())
                pick = self.rng.uniform(0, sum(s.weight for s in members))
                for svc in members:
                    pick -= svc.weight
                    if pick <= 0:
                        break
        if not self._authorized(req, svc.token):
            return Response(401, b"invalid token")
        if svc.status != "Running":
            return Response(503, b"service is not running")
        time.sleep(svc.behavior.get("latency_ms", 0) / 1000)
        svc.served += 1
        if self.rng.random() < svc.behavior.get("error_rate", 0.0):
            return Response(500, b"model error")
        try:
            inputs = json.loads(req.body).get("inputs")
        except (ValueError, AttributeError):
            return Response(400, b"body is not JSON with inputs")
        return json_response({"outputs": inputs, "served_by": svc.name})
