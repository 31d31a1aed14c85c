# Over 450 lines on purpose: the whole EAS mapping (deploy, traffic, records, autoscaler) reads as one unit.
"""The serving face over PAI-EAS (``alibabacloud-eas20210701``).

Mapping (reference §3):

- a pai-jupyter *service* ``digits-svc`` is an EAS **service group**
  ``digits_svc`` (EAS names allow no '-'); its endpoint is the group's
  ``/api/predict/<group>``;
- *version* N is its own EAS service ``digits_svc_vN`` created with
  CreateService from ``ServiceSpec.to_eas(model_uri)`` plus
  ``metadata.group`` (the group key is UNCONFIRMED in the reference) and
  ``pai-jupyter.*`` labels; every version is created with the same token, so
  the group endpoint takes one token whichever member answers;
- traffic: ReleaseService per member, ``{"Weight": percent, "TrafficState":
  "grouping"}`` for members with traffic, ``{"Weight": 0, "TrafficState":
  "standalone"}`` for the others (weights are sent as percentages; EAS
  splits by relative weight);
- a new version starts a gated rollout through the plan's steps; rollback to
  any kept version is the same weight change; the autoscaler is
  Create/UpdateServiceAutoScaler on every member;
- endpoint and token come from DescribeService (``InternetEndpoint``, or the
  intranet one inside Alibaba Cloud, and ``AccessToken``).

Rollout state, events and what EAS has no place for (model URI, job id,
signature, the autoscaler policy) live in
``oss://<bucket>/pai-jupyter/services/<name>/state.json``. Reads (``get``,
``list``) change nothing; the rollout is advanced by ``reconcile_service``, which the
widgets, ``wait_rollout``, the sidebar and ``--wait`` call on purpose (every
``AliyunBackend.reconcile_interval``), and by a daemon thread in the process that
started it: with nobody watching, it holds its current weights and never advances
unobserved. Gate figures come from the client side (see ``eas_figures``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict
from typing import Any

from ...config import PaiConfig, in_dsw
from ...errors import ConflictError, NotFoundError, ValidationError
from ...records import (
    ROLLOUT_RUNNING,
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
from ...specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec
from ...storage.provenance import provenance_beside
from ...storage.uri import OssUri
from .credentials import openapi_config, region_endpoint
from .eas_figures import ClientFigures
from .eas_rollout import EasRollouts
from .oss_storage import OssStorage
from .sdk_errors import sdk_call

DEPLOY_TIMEOUT = 900.0
TICK = 2.0
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
        labels = dict(body.get("labels") or {})
        labels.update({"pai-jupyter.service": spec.name, "pai-jupyter.version": str(number)})
        if job_id:
            labels["pai-jupyter.job"] = job_id
        body["labels"] = labels
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

    def deploy(
        self,
        spec: ServiceSpec,
        model_uri: str,
        plan: RolloutPlan | None = None,
        new_api_version: bool = False,
        job_id: str | None = None,
    ) -> ServiceRecord:
        spec.validate()
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
        self._set_weights(state, {current: 100 - first, number: first})
        rollout = RolloutRecord.begin(f"ro-{secrets.token_hex(4)}", spec.name, current, number, plan, now)
        state["rollouts"].append(rollout.to_dict())
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

    def _endpoint_of(self, item: dict[str, Any], group: str) -> str:
        url = str(item.get("IntranetEndpoint") if in_dsw() else item.get("InternetEndpoint") or "")
        url = url or str(item.get("InternetEndpoint") or item.get("IntranetEndpoint") or "")
        member = str(item.get("ServiceName"))
        return url[: -len(member)] + group if url.endswith(member) else url

    def _active(self, state: dict[str, Any]) -> RolloutRecord | None:
        if not state["rollouts"]:
            return None
        rollout = RolloutRecord.from_dict(state["rollouts"][-1])
        return rollout if rollout.active else None

    def _latest(self, state: dict[str, Any]) -> RolloutRecord | None:
        return RolloutRecord.from_dict(state["rollouts"][-1]) if state["rollouts"] else None

    def get(self, name: str) -> ServiceRecord:
        """Pure read: DescribeService/ListServices and the state object; changes nothing."""
        state = self._load(name)
        return self._record(state, self._members(state["group"]))

    def reconcile_service(self, name: str) -> ServiceRecord:
        """Advance an active rollout by one controller tick (probes, an OSS claim, ReleaseService)."""
        state = self._load(name)
        members = self._members(state["group"])
        rollout = self._active(state)
        changed = (
            rollout is not None and rollout.state == ROLLOUT_RUNNING and self._advance(state, rollout, members)
        )
        if changed:
            members = self._members(state["group"])
        return self._record(state, members)

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
        any_member = members.get(serving) if serving is not None else next(iter(members.values()), {})
        rollouts = state["rollouts"]
        return ServiceRecord(
            name=state["name"],
            state=svc_state,
            backend="aliyun",
            endpoint=self._endpoint_of(any_member or {}, state["group"]),
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
        record = self.get(name)
        number = record.serving_version or max(v.version for v in record.versions)
        return self._token_of(f"{self._load(name)['group']}_v{number}")

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
            try:
                with self._call(f"UpdateServiceAutoScaler {member}"):
                    self.client.update_service_auto_scaler(
                        self.cluster, member, models.UpdateServiceAutoScalerRequest().from_map(body)
                    )
            except NotFoundError:
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
