# Over 450 lines on purpose: the whole EAS mapping (deploy, traffic, records, autoscaler) reads as one unit.
"""The serving face over PAI-EAS (``alibabacloud-eas20210701``).

Mapping (reference sections 3 and 9; docs/aliyun.md):

- a pai-jupyter *service* ``digits-svc`` is an EAS **service group**
  ``digits_svc`` (EAS names allow no '-'); its endpoint and its own token
  come from DescribeGroup (the Group struct's ``InternetEndpoint`` /
  ``IntranetEndpoint`` and ``AccessToken``), not from a member;
- *version* N is its own EAS service ``digits_svc_vN`` created with
  CreateService from ``ServiceSpec.to_eas(model_uri)``: our model server in a
  custom container with the ``pai_jupyter`` runtime mounted and the model's
  framework pinned in ``prepare.pythonRequirements`` (``eas_runtime``), plus
  ``metadata.group`` (the group key is UNCONFIRMED in the reference) and short
  ``pai-jupyter.*`` labels (at most 128 bytes, no ',' or '='); the signature,
  model URI, job id and autoscaler policy live in the service's state on OSS;
- traffic: the group's ``TrafficMode`` is set to ``customized`` with UpdateGroup
  (the SDK has no helper; ``_call_api`` sends the documented
  ``PUT /api/v2/groups/{ClusterId}/{GroupName}``) and checked with DescribeGroup
  before the first weighted step: in ``auto`` mode EAS splits by instance count
  and ignores weights. Then ReleaseService per member, ``{"Weight": percent,
  "TrafficState": "grouping"}`` for members with traffic, ``{"Weight": 0,
  "TrafficState": "standalone"}`` for the others;
- the autoscaler: DescribeServiceAutoScaler first, then Update (one exists) or
  Create (none yet); an error from Describe is an error, not "none yet".

Reads never write: ``get`` only reads. ``reconcile_service`` advances a rollout
(or reverts it) and is called on purpose by a driver: the Jupyter server
extension of the workspace that started it (``pai_jupyter.server.rollouts``),
or the kernel that started it while it lives. Each step holds a *lease* with a
deadline in the service's state; a driver of the same workspace renews it on
every reconcile. When the deadline passes with nobody renewing (the instance
stopped, the kernel died), the next client that reconciles the service, as
``jupyter pai services rollout NAME status`` does, reverts the weights and
records why. Gate figures: see ``eas_figures``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import asdict
from typing import Any

from ...config import PaiConfig, in_dsw
from ...errors import ConflictError, NotFoundError, ValidationError
from ...records import (
    SVC_CREATING,
    SVC_FAILED,
    SVC_RUNNING,
    VER_CREATING,
    VER_FAILED,
    VER_RUNNING,
    VER_STOPPED,
    RolloutRecord,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
    VersionRecord,
)
from ...specs.service import (
    CONTAINER_RUNTIME_DIR,
    AutoscalePolicy,
    RolloutPlan,
    ServiceSpec,
)
from ...storage.provenance import provenance_beside
from ...storage.uri import OssUri
from .credentials import openapi_config, region_endpoint
from .eas_figures import ClientFigures
from .eas_rollout import EasRollouts
from .eas_runtime import environment_packages, requirements, runtime_digest, runtime_files
from .oss_storage import OssStorage
from .sdk_errors import sdk_call

DEPLOY_TIMEOUT = 900.0
TICK = 2.0
LEASE_S = 300.0  # a rollout step's lease; drivers renew it every TICK
# EAS labels: keys and values at most 128 bytes, no ',' or '=' (UpdateServiceLabel API doc).
LABEL_MAX = 128
# Regions where Elastic Inference (EAIS) can be attached; UNCONFIRMED list, see docs/aliyun.md.
EI_REGIONS = frozenset({"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen"})
_VER_STATE = {"Running": VER_RUNNING, "Failed": VER_FAILED, "Stopped": VER_STOPPED, "Stopping": VER_STOPPED}


class EasServing(EasRollouts):
    def __init__(self, config: PaiConfig, storage: OssStorage, tick: float = TICK) -> None:
        self.config = config
        self.storage = storage
        self.endpoint = region_endpoint(config, "eas")
        self.cluster = config.region
        self.tick = tick
        self.deploy_timeout = DEPLOY_TIMEOUT
        self.figures = ClientFigures()
        self._client: Any = None
        self._watchers: dict[str, threading.Thread] = {}
        # One reconcile of a service at a time in this process (the watcher thread and wait_rollout).
        self._reconciling: dict[str, threading.Lock] = {}
        self._reconciling_guard = threading.Lock()
        self.lease_s = LEASE_S
        # Who drives rollouts from here: the workspace (DSW instance) or this host.
        self.origin = os.environ.get("DSW_INSTANCE_ID") or f"host {socket.gethostname()}"
        self.driver_kind = "python process"

    @property
    def reconcile_interval(self) -> float:
        """Seconds between two ``reconcile_service`` calls a driver should make."""
        return self.tick

    # -- SDK ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_eas20210701.client import Client

            self._client = Client(openapi_config(self.config, "eas"))
        return self._client

    def _call(self, what: str) -> Any:
        return sdk_call(what, self.endpoint, f"check PaiConfig.region ({self.cluster}) and eas_endpoint")

    def _describe(self, member: str) -> dict[str, Any]:
        with self._call(f"DescribeService {member}"):
            return self.client.describe_service(self.cluster, member).body.to_map()

    def _members(self, group: str) -> dict[int, dict[str, Any]]:
        from alibabacloud_eas20210701 import models

        with self._call(f"ListServices group {group}"):
            body = self.client.list_services(models.ListServicesRequest(group_name=group, page_size=100)).body
        out = {}
        for item in body.to_map().get("Services") or []:
            name = str(item.get("ServiceName", ""))
            head, _, number = name.rpartition("_v")
            if head == group and number.isdigit():
                out[int(number)] = item
        return out

    def _release(self, member: str, weight: float) -> None:
        from alibabacloud_eas20210701 import models

        body = (
            models.ReleaseServiceRequest(weight=round(weight), traffic_state="grouping")
            if weight > 0
            else models.ReleaseServiceRequest(weight=0, traffic_state="standalone")
        )
        with self._call(f"ReleaseService {member}"):
            self.client.release_service(self.cluster, member, body)

    # -- groups ----------------------------------------------------------------------------
    def _group(self, group: str) -> dict[str, Any]:
        """DescribeGroup: the group's own endpoint, token and TrafficMode (the Group struct)."""
        with self._call(f"DescribeGroup {group}"):
            return self.client.describe_group(self.cluster, group).body.to_map()

    def _call_api(self, action: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A documented EAS action the SDK has no helper for, through the client's generic call."""
        from alibabacloud_tea_openapi import models as open_api_models
        from alibabacloud_tea_util import models as util_models

        params = open_api_models.Params(
            action=action,
            version="2021-07-01",
            protocol="HTTPS",
            pathname=path,
            method=method,
            auth_type="AK",
            style="ROA",
            req_body_type="json",
            body_type="json",
        )
        request = open_api_models.OpenApiRequest(body=body)
        with self._call(action):
            return dict(self.client.call_api(params, request, util_models.RuntimeOptions()).get("body") or {})

    def _ensure_customized(self, state: dict[str, Any]) -> None:
        """Weights mean nothing in TrafficMode auto (split by instance count): switch the group to
        customized with UpdateGroup (``PUT /api/v2/groups/{ClusterId}/{GroupName}``, body
        ``{"TrafficMode": "customized"}``, the UpdateGroup API doc) and check it with DescribeGroup."""
        group = state["group"]
        if self._group(group).get("TrafficMode") == "customized":
            return
        self._call_api(
            "UpdateGroup", "PUT", f"/api/v2/groups/{self.cluster}/{group}", {"TrafficMode": "customized"}
        )
        mode = self._group(group).get("TrafficMode")
        if mode != "customized":
            raise ConflictError(
                f"EAS group {group} still splits traffic by {mode!r} after UpdateGroup TrafficMode=customized",
                "set the group's traffic mode to custom weights in the EAS console, then deploy again",
            )
        self._event(state, "config", f"group {group}: TrafficMode customized (weights now decide the split)")

    # -- state on OSS ------------------------------------------------------------------------
    def _bucket(self) -> str:
        return self.config.bucket

    def _state_uri(self, name: str) -> OssUri:
        return OssUri(self._bucket(), f"pai-jupyter/services/{name}/state.json")

    def _load(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(self.storage.read_bytes(self._state_uri(name)))
        except NotFoundError:
            raise NotFoundError(
                f"no service named {name!r} on PAI-EAS ({self.cluster})",
                "list services with `jupyter pai services list`",
            ) from None

    def _save(self, state: dict[str, Any]) -> None:
        state["updated_at"] = time.time()
        self.storage.write_bytes(self._state_uri(state["name"]), json.dumps(state, indent=1).encode())

    def _event(
        self, state: dict[str, Any], kind: str, message: str, version: int | None = None, **data: Any
    ) -> None:
        state["events"].append(asdict(ServiceEvent(time.time(), kind, message, version, data)))

    # -- deploy -----------------------------------------------------------------------------
    def _create_member(
        self, spec: ServiceSpec, number: int, model_uri: str, token: str, job_id: str | None
    ) -> str:
        from alibabacloud_eas20210701 import models

        group = spec.eas_name
        member = f"{group}_v{number}"
        body = spec.with_changes(token=token).to_eas(model_uri, region=self.cluster)
        body["name"] = member
        body["metadata"]["group"] = group
        if self.config.workspace_id:
            body["metadata"]["workspace_id"] = self.config.workspace_id
        if spec.processor != "custom":
            self._mount_runtime(body, spec, model_uri)
        labels = dict(body.get("labels") or {})
        labels.update({"pai-jupyter.service": spec.name, "pai-jupyter.version": str(number)})
        if job_id:
            labels["pai-jupyter.job"] = job_id
        body["labels"] = {k: v for k, v in labels.items() if _label_ok(k) and _label_ok(v)}
        request = models.CreateServiceRequest(body=json.dumps(body), workspace_id=self.config.workspace_id or None)
        with self._call(f"CreateService {member}"):
            self.client.create_service(request)
        deadline = time.monotonic() + self.deploy_timeout
        while True:
            item = self._describe(member)
            if item.get("Status") == "Running":
                return member
            if item.get("Status") in ("Failed", "DeleteFailed", "Stopped"):
                raise ValidationError(
                    f"version {number} of {spec.name} ({member}) is {item.get('Status')}: {item.get('Reason') or 'no reason given'}",
                    "check the model path, processor and resources in the EAS console",
                )
            if time.monotonic() > deadline:
                raise ValidationError(f"{member} is still {item.get('Status')} after {self.deploy_timeout:g}s")
            time.sleep(min(2.0, max(0.05, self.tick / 4)))

    def _mount_runtime(self, body: dict[str, Any], spec: ServiceSpec, model_uri: str) -> None:
        """Our model server's code mounted from OSS, the framework pinned (``eas_runtime``)."""
        (container,) = body["containers"]
        provenance = OssUri.parse(model_uri).as_dir().join("provenance.json")
        recorded = None
        if self.storage.exists(provenance):
            try:
                recorded = json.loads(self.storage.read_bytes(provenance))
            except ValueError:
                recorded = None
        image = container["image"]
        container["prepare"] = {
            "pythonRequirements": requirements(
                spec.processor, image, environment_packages(recorded), bool(spec.gpu or spec.elastic_inference)
            )
        }
        files = runtime_files()
        root = OssUri(self._bucket(), f"pai-jupyter/runtime/{runtime_digest(files)}/")
        if not self.storage.exists(root.join("pai_jupyter/model_server/eas_container.py")):
            for rel, data in files.items():
                self.storage.write_bytes(root.join(rel), data)
        container["env"].append({"name": "PYTHONPATH", "value": CONTAINER_RUNTIME_DIR})
        body["storage"].append({"mount_path": CONTAINER_RUNTIME_DIR, "oss": {"path": str(root), "readOnly": True}})

    def _check_region(self, spec: ServiceSpec) -> None:
        if spec.elastic_inference and self.cluster not in EI_REGIONS:
            raise ValidationError(
                f"Elastic Inference is not offered in {self.cluster}",
                f"deploy in one of {', '.join(sorted(EI_REGIONS))}, or drop --elastic-inference",
            )

    def deploy(
        self,
        spec: ServiceSpec,
        model_uri: str,
        plan: RolloutPlan | None = None,
        new_api_version: bool = False,
        job_id: str | None = None,
    ) -> ServiceRecord:
        spec.validate()
        self._check_region(spec)
        plan = (plan or RolloutPlan()).validate()
        OssUri.parse(model_uri, "model URI")
        try:
            state = self._load(spec.name)
        except NotFoundError:
            state = None
        beside = provenance_beside(self.storage, OssUri.parse(model_uri))
        provenance_uri = str(beside) if beside is not None else None
        now = time.time()
        if state is None:
            token = spec.token or secrets.token_urlsafe(24)
            self._create_member(spec, 1, model_uri, token, job_id)
            self._release(f"{spec.eas_name}_v1", 100)
            state = {
                "name": spec.name,
                "group": spec.eas_name,
                "spec": {**spec.to_dict(), "token": None},
                "env": spec.env,
                "created_at": now,
                "versions": {},
                "rollouts": [],
                "events": [],
                "autoscaler": spec.autoscaler.to_dict() if spec.autoscaler else {},
            }
            state["versions"]["1"] = _version_entry(model_uri, spec, job_id, provenance_uri, now)
            self._event(state, "deploy", f"v1 ({spec.processor}) from {model_uri} serves 100 %", 1)
            self._save(state)
            return self.get(spec.name)
        rollout = self._active(state)
        if rollout is not None:
            raise ConflictError(
                f"{spec.name} is rolling out v{rollout.to_version} ({rollout.state})",
                f"finish it first: `%pai_rollout {spec.name} promote` or `abort`",
            )
        record = self.get(spec.name)
        current = record.serving_version
        if current is None:
            raise ConflictError(f"{spec.name} has no version serving traffic", "roll back to a version first")
        old_signature = state["versions"][str(current)].get("signature")
        if not new_api_version and old_signature and spec.signature:
            from ...decisions.signature import compare

            diffs = compare(old_signature, spec.signature)
            if diffs:
                raise ConflictError(
                    f"the new model's signature is incompatible with v{current}: " + "; ".join(diffs),
                    "fix the model, or deploy it with --new-api-version (served beside the current one)",
                )
        number = max(int(v) for v in state["versions"]) + 1
        token = self._token_of(f"{state['group']}_v{current}")
        self._create_member(spec, number, model_uri, token, job_id)
        state["versions"][str(number)] = _version_entry(model_uri, spec, job_id, provenance_uri, now)
        if new_api_version:
            # Served beside the current version on its own endpoint; the group's traffic is unchanged.
            self._release(f"{state['group']}_v{number}", 0)
            self._event(
                state,
                "deploy",
                f"v{number} deployed beside v{current} as a new API version at "
                f"{self.version_endpoint(spec.name, number)}",
                number,
            )
            self._save(state)
            return self.get(spec.name)
        state["spec"] = {**spec.to_dict(), "token": None}
        first = plan.steps[0]
        self._ensure_customized(state)
        self._set_weights(state, {current: 100 - first, number: first})
        rollout = RolloutRecord.begin(f"ro-{secrets.token_hex(4)}", spec.name, current, number, plan, now)
        state["rollouts"].append(rollout.to_dict())
        self._take_lease(state, rollout)
        self._event(
            state,
            "deploy",
            f"v{number} ({spec.processor}) from {model_uri} created as {state['group']}_v{number}",
            number,
        )
        self._event(
            state,
            "rollout",
            f"rollout v{current} -> v{number} started at {first:g} %",
            number,
            plan=plan.to_dict(),
        )
        self._save(state)
        self._watch(spec.name)
        return self.get(spec.name)

    # -- reads ------------------------------------------------------------------------------
    def _token_of(self, member: str) -> str:
        return str(self._describe(member).get("AccessToken") or "")

    def _endpoint_of(self, group: dict[str, Any]) -> str:
        first, second = (
            ("IntranetEndpoint", "InternetEndpoint") if in_dsw() else ("InternetEndpoint", "IntranetEndpoint")
        )
        url = str(group.get(first) or group.get(second) or "")
        if url and "/api/predict/" not in url:
            url = url.rstrip("/") + f"/api/predict/{group.get('Name')}"
        return url

    def _active(self, state: dict[str, Any]) -> RolloutRecord | None:
        if not state["rollouts"]:
            return None
        rollout = RolloutRecord.from_dict(state["rollouts"][-1])
        return rollout if rollout.active else None

    def _latest(self, state: dict[str, Any]) -> RolloutRecord | None:
        return RolloutRecord.from_dict(state["rollouts"][-1]) if state["rollouts"] else None

    def get(self, name: str) -> ServiceRecord:
        """What EAS and the state say now. Reads only: ``reconcile_service`` moves rollouts."""
        state = self._load(name)
        return self._record(state, self._members(state["group"]))

    def _weights(self, members: dict[int, dict[str, Any]]) -> dict[int, float]:
        live = {
            n: float(m.get("Weight") or 0)
            for n, m in members.items()
            if m.get("TrafficState") == "grouping" and float(m.get("Weight") or 0) > 0
        }
        total = sum(live.values())
        return {n: round(w * 100 / total, 3) for n, w in live.items()} if total else {}

    def _record(self, state: dict[str, Any], members: dict[int, dict[str, Any]]) -> ServiceRecord:
        weights = self._weights(members)
        versions = []
        for key, entry in sorted(state["versions"].items(), key=lambda kv: int(kv[0])):
            number = int(key)
            item = members.get(number, {})
            status = str(item.get("Status") or "Deleted")
            versions.append(
                VersionRecord(
                    version=number,
                    model_uri=entry["model_uri"],
                    processor=entry["processor"],
                    state=_VER_STATE.get(status, VER_CREATING if item else VER_STOPPED),
                    weight=weights.get(number, 0.0),
                    signature=entry.get("signature") or {},
                    created_at=entry["created_at"],
                    instances=int(item.get("RunningInstance") or 0),
                    desired_instances=int(item.get("TotalInstance") or 0),
                    job_id=entry.get("job_id"),
                    provenance_uri=entry.get("provenance_uri"),
                    reason=item.get("Reason") or None,
                )
            )
        serving = max(weights, key=lambda n: (weights[n], -n)) if weights else None
        if serving is not None and members[serving].get("Status") == "Running":
            svc_state = SVC_RUNNING
        elif any(v.state == VER_FAILED for v in versions):
            svc_state = SVC_FAILED
        else:
            svc_state = SVC_CREATING
        try:
            endpoint = self._endpoint_of(self._group(state["group"]))
        except NotFoundError:  # the group goes with its last member
            endpoint = ""
        rollouts = state["rollouts"]
        return ServiceRecord(
            name=state["name"],
            state=svc_state,
            backend="aliyun",
            endpoint=endpoint,
            spec=ServiceSpec.from_dict(state["spec"]),
            versions=versions,
            created_at=state["created_at"],
            updated_at=state.get("updated_at", state["created_at"]),
            env=state["env"],
            rollout=RolloutRecord.from_dict(rollouts[-1]) if rollouts else None,
            autoscaler=state.get("autoscaler") or {},
        )

    def version_endpoint(self, name: str, version: int) -> str:
        """The endpoint of one version only (its own EAS service), e.g. a new API version."""
        group = name.replace("-", "_")
        item = self._describe(f"{group}_v{int(version)}")
        url = item.get("IntranetEndpoint") if in_dsw() else item.get("InternetEndpoint")
        return str(url or item.get("InternetEndpoint") or item.get("IntranetEndpoint") or "")

    def list(self) -> list[ServiceRecord]:
        base = OssUri(self._bucket(), "pai-jupyter/services/")
        names = [info.uri.rstrip("/").rsplit("/", 1)[-1] for info in self.storage.list(base) if info.is_dir]
        out = []
        for name in names:
            try:
                out.append(self.get(name))
            except NotFoundError:
                continue
        return out

    def token(self, name: str) -> str:
        """The group's own token (DescribeGroup ``AccessToken``), which its endpoint checks."""
        return str(self._group(self._load(name)["group"]).get("AccessToken") or "")

    def version_token(self, name: str, version: int) -> str:
        """The token of one version's own endpoint (its EAS service)."""
        return self._token_of(f"{self._load(name)['group']}_v{int(version)}")

    def delete(self, name: str) -> None:
        state = self._load(name)
        for number in self._members(state["group"]):
            with self._call(f"DeleteService {state['group']}_v{number}"):
                self.client.delete_service(self.cluster, f"{state['group']}_v{number}")
        self.storage.delete(OssUri(self._bucket(), f"pai-jupyter/services/{name}/"), recursive=True)

    # -- traffic -----------------------------------------------------------------------------
    def _set_weights(self, state: dict[str, Any], weights: dict[int, float]) -> None:
        # Raise the receiving side first so the group never has zero total weight.
        for number, weight in sorted(weights.items(), key=lambda kv: -kv[1]):
            self._release(f"{state['group']}_v{number}", weight)

    def set_autoscaler(self, name: str, policy: AutoscalePolicy) -> ServiceRecord:
        from alibabacloud_eas20210701 import models

        state = self._load(name)
        policy.validate(state["env"])
        body = policy.to_eas_autoscaler()
        for number in self._members(state["group"]):
            member = f"{state['group']}_v{number}"
            # Read first: an error here is an error, never taken for "no autoscaler yet".
            with self._call(f"DescribeServiceAutoScaler {member}"):
                current = self.client.describe_service_auto_scaler(self.cluster, member).body
            if current.max_replica:
                with self._call(f"UpdateServiceAutoScaler {member}"):
                    self.client.update_service_auto_scaler(
                        self.cluster, member, models.UpdateServiceAutoScalerRequest().from_map(body)
                    )
            else:
                with self._call(f"CreateServiceAutoScaler {member}"):
                    self.client.create_service_auto_scaler(
                        self.cluster, member, models.CreateServiceAutoScalerRequest().from_map(body)
                    )
        state["autoscaler"] = policy.to_dict()
        self._event(
            state,
            "scale",
            f"autoscaler set: {policy.min}-{policy.max} instances at {policy.qps_per_instance:g} QPS each",
        )
        self._save(state)
        return self.get(name)

    def metrics(self, name: str, since: float | None = None) -> list[ServiceMetricPoint]:
        """Client-side figures per version, one point per second of probes (see ``eas_figures``)."""
        record = self.get(name)
        weights = record.weights
        instances = {v.version: v.instances for v in record.versions}
        buckets: dict[tuple[int, int], list[Any]] = {}
        for s in self.figures.samples(name, since or 0.0):
            buckets.setdefault((int(s.ts), s.version), []).append(s)
        out = []
        for (second, version), samples in sorted(buckets.items()):
            lat = sorted(s.latency_ms for s in samples if s.latency_ms is not None)
            errors = sum(1 for s in samples if not s.ok)
            out.append(
                ServiceMetricPoint(
                    ts=float(second + 1),
                    version=version,
                    qps=float(len(samples)),
                    p50_ms=lat[len(lat) // 2] if lat else None,
                    p95_ms=lat[max(0, -(-95 * len(lat) // 100) - 1)] if lat else None,
                    error_rate=errors / len(samples),
                    requests=len(samples),
                    errors=errors,
                    instances=instances.get(version, 0),
                    weight=weights.get(version, 0.0),
                )
            )
        return out

    def events(self, name: str, since: float | None = None) -> list[ServiceEvent]:
        state = self._load(name)
        return [ServiceEvent(**e) for e in state["events"] if since is None or e["ts"] > since]


def _label_ok(text: str) -> bool:
    return len(str(text).encode()) <= LABEL_MAX and "," not in str(text) and "=" not in str(text)


def _version_entry(
    model_uri: str, spec: ServiceSpec, job_id: str | None, provenance_uri: str | None, now: float
) -> dict[str, Any]:
    return {
        "model_uri": model_uri,
        "processor": spec.processor,
        "signature": spec.signature or {},
        "job_id": job_id,
        "provenance_uri": provenance_uri,
        "created_at": now,
    }
