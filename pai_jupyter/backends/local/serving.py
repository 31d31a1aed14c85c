"""The serving face of the local backend: a client of the control plane's ``/api/v1/services`` API.

Every call is one HTTP request (see ``controlplane.serving.setup`` for the
routes); server-side PaiErrors come back as the same PaiError subclasses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...decisions.rollout import check_rollout_action
from ...errors import ValidationError
from ...records import ServiceEvent, ServiceMetricPoint, ServiceRecord
from ...storage.local import LocalStorage
from .http import JsonClient

if TYPE_CHECKING:  # pragma: no cover
    from ...specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec

API = "/api/v1/services"
DEPLOY_TIMEOUT = 300.0  # reading the signature and starting the first instances


class LocalServing:
    """The serving face: one HTTP request to the control plane per call."""

    def __init__(self, client: JsonClient, storage: LocalStorage) -> None:
        self.client = client
        self.storage = storage

    def deploy(
        self,
        spec: ServiceSpec,
        model_uri: str,
        plan: RolloutPlan | None = None,
        new_api_version: bool = False,
        job_id: str | None = None,
    ) -> ServiceRecord:
        body: dict[str, Any] = {
            "spec": spec.to_dict(),
            "model_uri": str(model_uri),
            "plan": plan.to_dict() if plan is not None else None,
            "new_api_version": bool(new_api_version),
            "job_id": job_id,
        }
        data = self.client.request("POST", API, json=body, timeout=DEPLOY_TIMEOUT)
        return ServiceRecord.from_dict(data["service"])

    def get(self, name: str) -> ServiceRecord:
        return ServiceRecord.from_dict(self.client.get(f"{API}/{_name(name)}")["service"])

    def reconcile_service(self, name: str, drive: bool = True) -> ServiceRecord:
        """The control plane's rollout loop already advances rollouts: nothing to do here."""
        return self.get(name)

    def version_endpoint(self, name: str, version: int) -> str:
        """The gateway routes ``<endpoint>@vN`` to version N only."""
        return f"{self.get(name).endpoint}@v{int(version)}"

    def list(self) -> list[ServiceRecord]:
        return [ServiceRecord.from_dict(s) for s in self.client.get(API)["services"]]

    def delete(self, name: str) -> None:
        self.client.delete(f"{API}/{_name(name)}")

    def token(self, name: str) -> str:
        return str(self.client.get(f"{API}/{_name(name)}/token")["token"])

    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        check_rollout_action(action)
        return ServiceRecord.from_dict(self.client.post(f"{API}/{_name(name)}/rollout/{action}")["service"])

    def rollback(self, name: str, version: int) -> ServiceRecord:
        data = self.client.request(
            "POST", f"{API}/{_name(name)}/rollback", json={"version": int(version)}, timeout=DEPLOY_TIMEOUT
        )
        return ServiceRecord.from_dict(data["service"])

    def set_autoscaler(self, name: str, policy: AutoscalePolicy) -> ServiceRecord:
        data = self.client.request("PUT", f"{API}/{_name(name)}/autoscaler", json={"policy": policy.to_dict()})
        return ServiceRecord.from_dict(data["service"])

    def metrics(self, name: str, since: float | None = None) -> list[ServiceMetricPoint]:
        data = self.client.get(f"{API}/{_name(name)}/metrics", since=since)
        return [ServiceMetricPoint(**m) for m in data["metrics"]]

    def events(self, name: str, since: float | None = None) -> list[ServiceEvent]:
        data = self.client.get(f"{API}/{_name(name)}/events", since=since)
        return [ServiceEvent(**e) for e in data["events"]]

    def live(self, name: str, span: float = 10.0) -> dict[str, Any]:
        """The gateway's live view: per-version window, instances, cold-start queue, auth refusals."""
        return self.client.get(f"{API}/{_name(name)}/live", span=span)["live"]


def _name(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise ValidationError(f"service name {name!r} is not valid")
    return name
