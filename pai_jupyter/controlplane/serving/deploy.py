"""Deploying a model: a new service (v1 at 100 %) or a new version of one (a rollout, or a new API version).

``Deployer`` holds the serving core (``core.ServingCore``):
read the signature in a child process, refuse an incompatible one, start the
version's instances and wait until they answer, then move traffic.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from ...decisions.signature import compare
from ...errors import ConflictError, NotFoundError, ValidationError
from ...model_server.signature import read_signature_isolated
from ...records import (
    SVC_RUNNING,
    SVC_UPDATING,
    VER_CREATING,
    VER_FAILED,
    RolloutRecord,
    ServiceRecord,
)
from ...specs.service import RolloutPlan, ServiceSpec
from ...storage.provenance import provenance_beside
from ...storage.uri import OssUri
from ..db import loads
from ..private import child_environ, child_umask
from .core import ServingCore
from .gateway import ServiceRoute
from .instances import StartFailed


class Deployer:
    def __init__(self, core: ServingCore) -> None:
        self.core = core

    # -- deploy ---------------------------------------------------------------------
    async def deploy(self, body: dict[str, Any]) -> ServiceRecord:
        try:
            spec = ServiceSpec.from_dict(body["spec"]).validate()
            model_uri = str(body["model_uri"])
        except (KeyError, TypeError):
            raise ValidationError("the deploy request needs 'spec' and 'model_uri'") from None
        plan = RolloutPlan.from_dict(body["plan"]).validate() if body.get("plan") else RolloutPlan().validate()
        path = self.core.storage.path_for(OssUri.parse(model_uri))
        if not path.exists():
            raise NotFoundError(f"model {model_uri} does not exist", "upload it first, or check the job's outputs")
        pickled = check_pickle_trust(spec, path)  # before anything loads it
        async with self.core.lock(spec.name):
            signature = await read_signature_isolated(
                path,
                spec.processor,
                spec.signature,
                trust_pickle=spec.trust_pickle,
                env=child_environ(),  # loading a model may run its code: no control plane token
                umask=child_umask(),
            )
            if pickled is not None and self.core.store.exists(spec.name):
                self.core.event(
                    spec.name,
                    None,
                    "deploy",
                    f"{pickled} is a pickle, loaded because --trust-pickle was given",
                    {},
                )
            beside = provenance_beside(self.core.storage, OssUri.parse(model_uri))
            provenance = str(beside) if beside is not None else None
            if not self.core.store.exists(spec.name):
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

    def _set_layout(self, spec: ServiceSpec, number: int) -> None:
        """A custom version's --code folder (in local storage) and --requirements, for its instances."""
        if not (spec.code or spec.requirements):
            return
        code = None
        if spec.code:
            code = self.core.storage.path_for(OssUri.parse(spec.code, "--code"))
            if not code.is_dir():
                raise NotFoundError(f"--code {spec.code} does not exist", "deploy again to upload the folder")
        self.core.store.set_layout(spec.name, number, str(code) if code else None, list(spec.requirements))

    async def _create(
        self,
        spec: ServiceSpec,
        model_uri: str,
        path: Path,
        signature: dict,
        job_id: Any,
        provenance: str | None,
    ) -> ServiceRecord:
        name = spec.name
        token = spec.token or secrets.token_urlsafe(24)
        self.core.store.create_service(name, public_spec(spec), token, "Creating")
        number = self.core.store.add_version(
            name, model_uri, str(path), spec.processor, spec.command, VER_CREATING, signature, job_id, provenance
        )
        self._set_layout(spec, number)
        route = ServiceRoute(name, token, spec.max_body_bytes)
        self.core.gateway.services[name] = route
        vr = self.core.add_route(route, self.core.store.version_rows(name)[0])
        self.core.event(name, number, "deploy", f"deploying v{number} ({spec.processor}) from {model_uri}", {})
        try:
            await self.core.start_version(name, vr, spec.instances)
        except StartFailed as exc:
            await self.core.drop_service(name)
            raise ValidationError(
                f"version 1 of {name} failed to start: {exc}", "check the model or command; nothing was created"
            ) from None
        self.core.store.set_weights(name, {number: 100.0})
        route.set_weights({number: 100.0})
        self.core.store.update_service(name, state=SVC_RUNNING, reason=None)
        self.core.event(name, number, "deploy", f"v{number} is serving 100 % at {self.core.endpoint(name)}", {})
        return self.core.record(name)

    async def _add_version(
        self,
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
        current = self.core.store.latest_rollout(name)
        if current is not None and current.active:
            raise ConflictError(
                f"{name} is rolling out v{current.to_version} ({current.state})",
                f"finish it first: `%pai_rollout {name} promote` or `abort`",
            )
        route = self.core.route(name)
        serving = self.core.serving_version(name)
        if serving is not None and not new_api:
            diffs = compare(loads(serving["signature"]), signature)
            if diffs:
                raise ConflictError(
                    f"the new model's signature is incompatible with v{serving['version']}: " + "; ".join(diffs),
                    "fix the model, or deploy it with --new-api-version (served beside the current one)",
                )
        number = self.core.store.add_version(
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
        self._set_layout(spec, number)
        self.core.store.update_service(name, spec=public_spec(spec))
        route.max_body_bytes = spec.max_body_bytes
        row = next(v for v in self.core.store.version_rows(name) if v["version"] == number)
        vr = self.core.add_route(route, row)
        old_count = route.versions[serving["version"]].pool.desired if serving is not None else 0
        count = max(1, spec.policy.min, old_count if not new_api else 0)
        count = min(count, spec.policy.max)
        self.core.event(name, number, "deploy", f"deploying v{number} ({spec.processor}) from {model_uri}", {})
        try:
            await self.core.start_version(name, vr, count)
        except StartFailed as exc:
            await vr.pool.close()
            del route.versions[number]
            self.core.store.update_version(name, number, state=VER_FAILED, reason=str(exc), desired_instances=0)
            self.core.event(name, number, "deploy", f"v{number} failed to start: {exc}", {})
            raise ValidationError(
                f"version {number} of {name} failed to start: {exc}", "the serving version is unchanged"
            ) from None
        if new_api:
            self.core.event(
                name,
                number,
                "deploy",
                f"v{number} is a new API version at {self.core.endpoint(name)}@v{number}",
                {},
            )
            self.core.store.update_version(
                name, number, reason=f"new API version: {self.core.endpoint(name)}@v{number}"
            )
            return self.core.record(name)
        if serving is None:
            await self.core.apply_weights(name, {number: 100.0})
            self.core.store.update_service(name, state=SVC_RUNNING, reason=None)
            return self.core.record(name)
        now = time.time()
        first = plan.steps[0]
        rollout = RolloutRecord.begin(
            f"{name}-v{number}-{secrets.token_hex(3)}", name, serving["version"], number, plan, now
        )
        self.core.store.save_rollout(rollout)
        await self.core.apply_weights(name, {serving["version"]: 100.0 - first, number: first})
        self.core.store.update_service(name, state=SVC_UPDATING, reason=None)
        self.core.event(
            name,
            number,
            "rollout",
            f"rollout v{serving['version']} -> v{number} started: plan {plan.steps_text}, bake {plan.bake_s:g}s, "
            f"min {plan.min_requests} requests; {first:g} % on v{number}",
            {"plan": plan.to_dict()},
        )
        return self.core.record(name)


def check_pickle_trust(spec: ServiceSpec, path: Path) -> str | None:
    """Refuse a pickled scikit-learn model unless the spec trusts pickles; the file's name when it is one."""
    if spec.processor != "sklearn":
        return None
    from ...model_server.processors.sklearn import is_pickle, model_file, pickle_refusal

    file = model_file(path)
    if not is_pickle(file):
        return None
    if not spec.trust_pickle:
        raise pickle_refusal(file)
    return file.name


def public_spec(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as stored and shown: never the token."""
    return spec.with_changes(token=None).to_dict()
