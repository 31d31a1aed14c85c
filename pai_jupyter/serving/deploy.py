"""Deploying a model: a new service (v1 at 100 %) or a new version of one (a rollout, or a new API version).

A mixin of ``ServingManager`` (kept apart so each file holds one concern):
read the signature in a child process, refuse an incompatible one, start the
version's instances and wait until they answer, then move traffic.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends.serving_base import (
    SVC_RUNNING,
    SVC_UPDATING,
    VER_CREATING,
    VER_FAILED,
    VER_RUNNING,
    VER_STOPPED,
    RolloutRecord,
    ServiceRecord,
)
from ..controlplane.db import loads
from ..errors import ConflictError, NotFoundError, ValidationError
from ..specs.service import RolloutPlan, ServiceSpec
from ..storage.local import LocalStorage
from ..storage.uri import OssUri
from .gateway import ServiceRoute, VersionRoute
from .instances import StartFailed
from .signature import compare, read_signature_isolated

if TYPE_CHECKING:
    from .manager import ServingManager


class DeployMixin:
    """Methods annotate ``self`` as the ServingManager they are mixed into."""

    # -- deploy ---------------------------------------------------------------------
    async def deploy(self: ServingManager, body: dict[str, Any]) -> ServiceRecord:
        try:
            spec = ServiceSpec.from_dict(body["spec"]).validate()
            model_uri = str(body["model_uri"])
        except (KeyError, TypeError):
            raise ValidationError("the deploy request needs 'spec' and 'model_uri'") from None
        plan = RolloutPlan.from_dict(body["plan"]).validate() if body.get("plan") else RolloutPlan().validate()
        path = self.storage.path_for(OssUri.parse(model_uri))
        if not path.exists():
            raise NotFoundError(f"model {model_uri} does not exist", "upload it first, or check the job's outputs")
        pickled = check_pickle_trust(spec, path)  # before anything loads it
        async with self.lock(spec.name):
            signature = await read_signature_isolated(
                path, spec.processor, spec.signature, trust_pickle=spec.trust_pickle
            )
            if pickled is not None and self.store.exists(spec.name):
                self.event(
                    spec.name,
                    None,
                    "deploy",
                    f"{pickled} is a pickle, loaded because --trust-pickle was given",
                    {},
                )
            provenance = provenance_uri(self.storage, path)
            if not self.store.exists(spec.name):
                return await self._create(spec, model_uri, path, signature, body.get("job_id"), provenance)
            return await self._add_version(
                spec,
                model_uri,
                path,
                signature,
                body.get("job_id"),
                provenance,
                plan,
                bool(body.get("new_api_version")),
            )

    async def _create(
        self: ServingManager,
        spec: ServiceSpec,
        model_uri: str,
        path: Path,
        signature: dict,
        job_id: Any,
        provenance: str | None,
    ) -> ServiceRecord:
        name = spec.name
        token = spec.token or secrets.token_urlsafe(24)
        self.store.create_service(name, public_spec(spec), token, "Creating")
        number = self.store.add_version(
            name, model_uri, str(path), spec.processor, spec.command, VER_CREATING, signature, job_id, provenance
        )
        route = ServiceRoute(name, token, spec.max_body_bytes)
        self.gateway.services[name] = route
        vr = self._add_route(route, self.store.version_rows(name)[0])
        self.event(name, number, "deploy", f"deploying v{number} ({spec.processor}) from {model_uri}", {})
        try:
            await self._start_version(name, vr, spec.instances)
        except StartFailed as exc:
            await self._drop_service(name)
            raise ValidationError(
                f"version 1 of {name} failed to start: {exc}", "check the model or command; nothing was created"
            ) from None
        self.store.set_weights(name, {number: 100.0})
        route.set_weights({number: 100.0})
        self.store.update_service(name, state=SVC_RUNNING, reason=None)
        self.event(name, number, "deploy", f"v{number} is serving 100 % at {self.endpoint(name)}", {})
        return self.record(name)

    async def _start_version(self: ServingManager, name: str, vr: VersionRoute, count: int) -> None:
        now = time.time()
        self.store.update_version(name, vr.version, desired_instances=count, last_scale_out_at=now)
        await vr.pool.scale_to(count, wait=True)
        self.store.update_version(name, vr.version, state=VER_RUNNING if count else VER_STOPPED)

    async def _add_version(
        self: ServingManager,
        spec: ServiceSpec,
        model_uri: str,
        path: Path,
        signature: dict,
        job_id: Any,
        provenance: str | None,
        plan: RolloutPlan,
        new_api: bool,
    ) -> ServiceRecord:
        name = spec.name
        current = self.store.latest_rollout(name)
        if current is not None and current.active:
            raise ConflictError(
                f"{name} is rolling out v{current.to_version} ({current.state})",
                f"finish it first: `%pai_rollout {name} promote` or `abort`",
            )
        route = self.route(name)
        serving = self._serving_version(name)
        if serving is not None and not new_api:
            diffs = compare(loads(serving["signature"]), signature)
            if diffs:
                raise ConflictError(
                    f"the new model's signature is incompatible with v{serving['version']}: " + "; ".join(diffs),
                    "fix the model, or deploy it with --new-api-version (served beside the current one)",
                )
        number = self.store.add_version(
            name,
            model_uri,
            str(path),
            spec.processor,
            spec.command,
            VER_CREATING,
            signature,
            job_id,
            provenance,
            pinned_only=new_api,
        )
        self.store.update_service(name, spec=public_spec(spec))
        route.max_body_bytes = spec.max_body_bytes
        row = next(v for v in self.store.version_rows(name) if v["version"] == number)
        vr = self._add_route(route, row)
        old_count = route.versions[serving["version"]].pool.desired if serving is not None else 0
        count = max(1, spec.policy.min, old_count if not new_api else 0)
        count = min(count, spec.policy.max)
        self.event(name, number, "deploy", f"deploying v{number} ({spec.processor}) from {model_uri}", {})
        try:
            await self._start_version(name, vr, count)
        except StartFailed as exc:
            await vr.pool.close()
            del route.versions[number]
            self.store.update_version(name, number, state=VER_FAILED, reason=str(exc), desired_instances=0)
            self.event(name, number, "deploy", f"v{number} failed to start: {exc}", {})
            raise ValidationError(
                f"version {number} of {name} failed to start: {exc}", "the serving version is unchanged"
            ) from None
        if new_api:
            self.event(
                name, number, "deploy", f"v{number} is a new API version at {self.endpoint(name)}@v{number}", {}
            )
            self.store.update_version(name, number, reason=f"new API version: {self.endpoint(name)}@v{number}")
            return self.record(name)
        if serving is None:
            await self.apply_weights(name, {number: 100.0})
            self.store.update_service(name, state=SVC_RUNNING, reason=None)
            return self.record(name)
        now = time.time()
        first = plan.steps[0]
        rollout = RolloutRecord.begin(
            f"{name}-v{number}-{secrets.token_hex(3)}", name, serving["version"], number, plan, now
        )
        self.store.save_rollout(rollout)
        await self.apply_weights(name, {serving["version"]: 100.0 - first, number: first})
        self.store.update_service(name, state=SVC_UPDATING, reason=None)
        self.event(
            name,
            number,
            "rollout",
            f"rollout v{serving['version']} -> v{number} started: plan {plan.steps_text}, bake {plan.bake_s:g}s, "
            f"min {plan.min_requests} requests; {first:g} % on v{number}",
            {"plan": plan.to_dict()},
        )
        return self.record(name)

    def _serving_version(self: ServingManager, name: str) -> Any:
        live = [v for v in self.store.version_rows(name) if v["weight"] > 0 and not v["pinned_only"]]
        return max(live, key=lambda v: (v["weight"], -v["version"])) if live else None


def check_pickle_trust(spec: ServiceSpec, path: Path) -> str | None:
    """Refuse a pickled scikit-learn model unless the spec trusts pickles; the file's name when it is one."""
    if spec.processor != "sklearn":
        return None
    from .processors.sklearn import is_pickle, model_file, pickle_refusal

    file = model_file(path)
    if not is_pickle(file):
        return None
    if not spec.trust_pickle:
        raise pickle_refusal(file)
    return file.name


def public_spec(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as stored and shown: never the token."""
    return spec.with_changes(token=None).to_dict()


def provenance_uri(storage: LocalStorage, path: Path) -> str | None:
    """``provenance.json`` beside the model (its folder or the folder above), as an oss:// URI."""
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "provenance.json", folder.parent / "provenance.json"):
        if candidate.is_file() and storage.root in candidate.resolve().parents:
            rel = candidate.resolve().relative_to(storage.root).parts
            if len(rel) >= 2:
                return f"oss://{rel[0]}/{'/'.join(rel[1:])}"
    return None
