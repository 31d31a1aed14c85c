# Over 450 lines on purpose: Service (predict with reconnect, control, watching) and deploy are the one serving API.
"""The client API for serving: the one Python API the magics, CLI, server extension and sidebar use.

``deploy()`` turns a job id, an ``oss://`` URI or a local file/folder into a
model URI (uploading local models first), infers the processor from the model's
files when none is given, and asks the backend's serving face to create the
service (version 1 at 100 %) or to add a version and start a blue-green
rollout. ``Service`` is what users hold::

    svc = pai_jupyter.Service("digits-svc")
    svc.predict([[0.0] * 64])          # -> {"outputs": [...]}

Wire shape of ``predict`` (documented choice): for the built-in processors the
request is ``{"inputs": X}`` (``X`` an array for the model's first input, or
``{input name: array}``; NumPy arrays are converted) and the answer is the JSON
``{"outputs": Y}``; for the custom processor the bytes go through unchanged and
the answer's bytes come back. The token goes in the ``Authorization`` header as
EAS expects (the raw token), or, with ``signed=True``, in the request-signature
form of Alibaba's ``eas-prediction`` client. The same call works against EAS on
the aliyun backend: only ``record.endpoint`` and the token differ.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from ..backends.base import Backend, ServingBackend
from ..backends.local.http import never_sent
from ..decisions.rollout import check_rollout_action
from ..errors import BackendUnavailable, NotFoundError, PaiError, ValidationError
from ..records import (
    RolloutRecord,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
    VersionRecord,
)
from ..specs.batching import batching_options
from ..specs.service import DEFAULT_MAX_BODY, PROCESSORS, AutoscalePolicy, RolloutPlan, ServiceSpec
from ..storage.objects import ProgressCallback
from ..storage.uri import OssUri
from .common import BackendArg, resolve_backend
from .model_sources import infer_processor, resolve_model
from .predict import PredictError, eas_signature_headers, predict_error, to_json_value


class Service:
    """One service on any backend. Cheap to create; reads ask the backend."""

    def __init__(self, name: str, backend: BackendArg = None, record: ServiceRecord | None = None) -> None:
        self.name = name
        self.backend: Backend = resolve_backend(backend)
        self._record = record
        self._token: str | None = None
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        # Set by ``deploy``: the serving runtime against the model's environment (``drift.DriftReport``).
        self.drift: Any = None

    # -- state ------------------------------------------------------------------
    @property
    def serving(self) -> ServingBackend:
        return self.backend.serving

    @property
    def record(self) -> ServiceRecord:
        if self._record is None:
            self.refresh()
        assert self._record is not None
        return self._record

    def refresh(self) -> ServiceRecord:
        """The service as the backend knows it now (a pure read)."""
        self._record = self.serving.get(self.name)
        return self._record

    def reconcile(self) -> ServiceRecord:
        """Let the backend advance an active rollout by one step, then read the service.

        Watchers call this every ``backend.reconcile_interval`` seconds; ``wait_rollout`` at each poll.
        """
        self._record = self.serving.reconcile_service(self.name)
        return self._record

    @property
    def endpoint(self) -> str:
        return self.record.endpoint

    @property
    def state(self) -> str:
        return self.refresh().state

    @property
    def versions(self) -> list[VersionRecord]:
        return list(self.refresh().versions)

    @property
    def weights(self) -> dict[int, float]:
        return self.refresh().weights

    @property
    def spec(self) -> ServiceSpec:
        return self.record.spec

    @property
    def rollout(self) -> RolloutRecord | None:
        return self.refresh().rollout

    def token(self) -> str:
        if self._token is None:
            self._token = self.serving.token(self.name)
        return self._token

    def metrics(self, since: float | None = None) -> list[ServiceMetricPoint]:
        return self.serving.metrics(self.name, since=since)

    def events(self, since: float | None = None) -> list[ServiceEvent]:
        return self.serving.events(self.name, since=since)

    # -- predictions ----------------------------------------------------------------
    def predict(
        self,
        payload: Any,
        *,
        raw: bool = False,
        timeout: float = 30.0,
        signed: bool = False,
        version: int | None = None,
    ) -> Any:
        """Send one request to the endpoint; JSON in and out for built-ins, bytes for custom.

        ``raw=True`` sends ``payload`` (bytes, str, or a JSON value sent as is,
        without the ``{"inputs": ...}`` wrapper) and returns the response bytes.
        ``version=N`` calls that version only (``<endpoint>@vN``), e.g. one
        deployed with ``new_api_version=True``.
        """
        processor = self.record.spec.processor
        if version is not None:
            processor = next((v.processor for v in self.record.versions if v.version == version), processor)
        custom = processor == "custom"
        if raw or custom:
            content_type = "application/json"
            if isinstance(payload, (bytes, bytearray, memoryview)):
                body, content_type = bytes(payload), "application/octet-stream"
            elif isinstance(payload, str):
                body = payload.encode()
            else:
                body = json.dumps(to_json_value(payload)).encode()
        else:
            data = payload if isinstance(payload, dict) and "inputs" in payload else {"inputs": payload}
            body = json.dumps(to_json_value(data)).encode()
            content_type = "application/json"
        resp = self._post(body, content_type, timeout, signed, version)
        if raw or custom:
            return resp.content
        try:
            return resp.json()
        except ValueError:
            raise PredictError(
                f"{self.name} answered HTTP {resp.status_code} with a body that is not JSON",
                "use predict(..., raw=True) for a raw answer",
                resp.status_code,
                resp.content,
            ) from None

    def _version_url(self, version: int) -> str:
        """One version's own endpoint: EAS gives each version its own service; the local gateway
        routes ``<endpoint>@vN``."""
        return self.serving.version_endpoint(self.name, version)

    def _post(
        self, body: bytes, content_type: str, timeout: float, signed: bool, version: int | None = None
    ) -> requests.Response:
        url = self.endpoint if version is None else self._version_url(_version_number(version))
        # On EAS a version's own endpoint is its own service, with its own token; the group
        # endpoint takes the group's (DescribeGroup AccessToken).
        own_token = getattr(self.serving, "version_token", None)
        token = (
            self.token()
            if version is None or own_token is None
            else own_token(self.name, _version_number(version))
        )
        if signed:
            headers = eas_signature_headers(token, body, urlparse(url).path, content_type)
        else:
            headers = {"Authorization": token, "Content-Type": content_type}
        with self._lock:
            if self._session is None:
                self._session = requests.Session()
            session = self._session
        try:
            try:
                resp = session.post(url, data=body, headers=headers, timeout=timeout)
            except requests.ConnectionError as exc:
                # Refused: the request reached nobody. After a control-plane restart the gateway
                # listens elsewhere; ask for the record again and send it there, once.
                if not never_sent(exc) or self._moved(url, version) is None:
                    raise
                return self._post(body, content_type, timeout, signed, version)
        except requests.ConnectionError:
            raise BackendUnavailable(
                f"cannot reach {self.name}'s endpoint {url}", "is the service (or the control plane) running?"
            ) from None
        except requests.Timeout:
            raise BackendUnavailable(f"{self.name} did not answer within {timeout:g}s", "raise timeout=") from None
        if resp.status_code >= 400:
            raise predict_error(self.name, resp)
        return resp

    def _moved(self, url: str, version: int | None) -> str | None:
        """The endpoint now, when it differs from ``url`` (the service's record, read again)."""
        try:
            self.refresh()
        except PaiError:
            return None
        now = self.endpoint if version is None else self._version_url(_version_number(version))
        if now == url:
            return None
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
        return now

    # -- control ---------------------------------------------------------------------
    def _apply(self, record: ServiceRecord) -> Service:
        self._record = record
        return self

    def rollout_action(self, action: str) -> Service:
        check_rollout_action(action)
        return self._apply(self.serving.rollout_action(self.name, action))

    def pause(self) -> Service:
        return self.rollout_action("pause")

    def resume(self) -> Service:
        return self.rollout_action("resume")

    def promote(self) -> Service:
        return self.rollout_action("promote")

    def abort(self) -> Service:
        return self.rollout_action("abort")

    def rollback(self, version: int) -> Service:
        number = _version_number(version)  # before the backend is touched
        return self._apply(self.serving.rollback(self.name, number))

    def set_autoscaler(self, policy: AutoscalePolicy) -> Service:
        policy.validate(self.record.env)
        return self._apply(self.serving.set_autoscaler(self.name, policy))

    def delete(self) -> None:
        self.serving.delete(self.name)
        self._record = None
        self.close()

    def wait_rollout(
        self,
        timeout: float | None = None,
        on_update: Callable[[ServiceRecord], None] | None = None,
        poll: float = 0.5,
    ) -> RolloutRecord | None:
        """Block until the current rollout ends (succeeded, failed, aborted); return it.

        A watcher: every poll reconciles the service (see ``reconcile``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple | None = None
        while True:
            record = self.reconcile()
            rollout = record.rollout
            key = (
                rollout.state if rollout else None,
                rollout.step if rollout else None,
                tuple(sorted(record.weights.items())),
            )
            if on_update is not None and key != last:
                on_update(record)
            last = key
            if rollout is None or not rollout.active:
                return rollout
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"the rollout of {self.name} v{rollout.to_version} is still {rollout.state} "
                    f"at step {rollout.step + 1}/{len(rollout.plan)} after {timeout:g}s"
                )
            time.sleep(poll)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __repr__(self) -> str:
        if self._record is None:
            return f"<Service {self.name!r}>"
        weights = ", ".join(f"v{v}: {w:g}%" for v, w in sorted(self._record.weights.items()))
        return f"<Service {self.name!r} {self._record.state} [{weights}] {self._record.endpoint}>"


def _version_number(version: Any) -> int:
    """``version`` as an int; anything else is a one-line ValidationError, not a ValueError."""
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ValidationError(
            f"version {version!r} is not a version number", "give the number N of vN, as svc.versions lists it"
        ) from None


# -- module functions ----------------------------------------------------------------------
def build_spec(
    name: str,
    processor: str,
    *,
    instances: int | None = None,
    autoscaler: AutoscalePolicy | None = None,
    **fields: Any,
) -> ServiceSpec:
    """The one place a deploy's ServiceSpec is built and validated (``fields``: ServiceSpec's own, with
    its defaults); ``instances`` defaults to the autoscaler's start (at least one). Either batching
    option alone turns batching on, the other taking EAS's default."""
    if instances is None:
        instances = 1 if autoscaler is None else min(max(autoscaler.min, 1), autoscaler.max)
    fields["max_batch_size"], fields["max_batch_timeout_ms"] = batching_options(
        fields.get("max_batch_size"), fields.get("max_batch_timeout_ms")
    )
    return ServiceSpec(
        name=name, processor=processor, instances=instances, autoscaler=autoscaler, **fields
    ).validate()


def deploy(
    name: str,
    model: str | Path,
    *,
    processor: str | None = None,
    instances: int | None = None,
    cpu: float = 1.0,
    memory_mb: int = 1024,
    gpu: int = 0,
    resource_group: str | None = None,
    env: str | None = None,
    autoscaler: AutoscalePolicy | None = None,
    signature: dict[str, Any] | None = None,
    command: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    token: str | None = None,
    max_batch_size: int | None = None,
    max_batch_timeout_ms: int | None = None,
    trust_pickle: bool = False,
    plan: RolloutPlan | None = None,
    new_api_version: bool = False,
    backend: BackendArg = None,
    progress: ProgressCallback | None = None,
    image: str | None = None,
    instance_type: str | None = None,
    elastic_inference: str | None = None,
    strict_env: bool = False,
    code: str | Path | None = None,
    requirements: tuple[str, ...] | list[str] = (),
) -> Service:
    """Create ``name`` with ``model`` as version 1, or roll ``model`` out as its next version.

    ``model``: a training job id (its ``model`` output), an ``oss://`` URI, or a
    local file or folder (uploaded to ``oss://<bucket>/pai-jupyter/models/<name>/<stamp>/``).
    A new version keeps the service's environment, autoscaler and batching
    unless ``env`` / ``autoscaler`` / ``max_batch_size`` or ``max_batch_timeout_ms``
    are given. Batching (``max_batch_size`` requests, waiting at most
    ``max_batch_timeout_ms``) is EAS's ``metadata.rpc.batching``.
    A new version keeps the service's environment and autoscaler unless
    ``env`` / ``autoscaler`` are given. ``trust_pickle``: a pickled scikit-learn
    model is loaded (which runs code from it) only when this is true; a
    ``.skops`` file needs no trust.
    ``env`` / ``autoscaler`` are given. On EAS: ``image`` is the container image our model
    server runs in (its Python decides the framework versions it can load),
    ``instance_type`` the public pool's ECS type (GPU services need one), and
    ``elastic_inference`` an EAIS accelerator type attached to a CPU instance.
    A custom processor gets the PAI SDK's serving layout: the model at ``/eas/workspace/model``
    (``MODEL_MOUNT_PATH``), ``code`` (a local folder, uploaded as a snapshot with its provenance,
    or an ``oss://`` folder) at ``/ml/usercode``, the command run there, and ``requirements``
    (pip lines) installed before it starts.
    """
    if processor is not None and processor not in PROCESSORS:
        raise ValidationError(
            f"processor {processor!r} is not supported", f"choose one of {', '.join(PROCESSORS)}"
        )
    if command and processor is None:
        processor = "custom"
    # Check everything that needs no model before touching storage.
    options: dict[str, Any] = {
        "instances": instances,
        "cpu": cpu,
        "memory_mb": memory_mb,
        "gpu": gpu,
        "resource_group": resource_group,
        "env": env,
        "autoscaler": autoscaler,
        "signature": signature,
        "command": command,
        "max_body_bytes": max_body_bytes,
        "token": token,
        "max_batch_size": max_batch_size,
        "max_batch_timeout_ms": max_batch_timeout_ms,
        "trust_pickle": trust_pickle,
        "image": image,
        "instance_type": instance_type,
        "elastic_inference": elastic_inference,
        "code": str(code) if code is not None else None,
        "requirements": tuple(requirements),
    }
    if code is not None and not str(code).startswith("oss://") and not Path(code).is_dir():
        raise ValidationError(f"--code {code} is not a folder", "give the folder with your server's code")
    build_spec(name, processor or "onnx", **{**options, "env": env or "dev"})
    if plan is not None:
        plan.validate()
    be = resolve_backend(backend)
    existing = _existing(be, name)
    options["env"] = env or (existing.env if existing else "dev")
    if autoscaler is None and existing is not None and existing.autoscaler:
        options["autoscaler"] = AutoscalePolicy.from_dict(existing.autoscaler)
    if max_batch_size is None and max_batch_timeout_ms is None and existing is not None:
        options["max_batch_size"] = existing.spec.max_batch_size
        options["max_batch_timeout_ms"] = existing.spec.max_batch_timeout_ms
    build_spec(name, processor or "onnx", **options)
    model_uri, processor, job_id = resolve_model(name, model, be, processor, progress, trust_pickle)
    if code is not None and not str(code).startswith("oss://"):
        options["code"] = upload_code(be, name, Path(code), progress)
    spec = build_spec(name, processor, **options)
    drift = _check_drift(be, model_uri, processor, job_id, strict_env)
    record = be.serving.deploy(spec, model_uri, plan=plan, new_api_version=new_api_version, job_id=job_id)
    svc = Service(record.name, backend=be, record=record)
    svc.drift = drift
    _record_deployment(be, record, model_uri, job_id, drift)
    return svc


def upload_code(be: Backend, name: str, folder: Path, progress: ProgressCallback | None = None) -> str:
    """Snapshot ``folder`` (credential files and caches left out) to
    ``oss://<bucket>/pai-jupyter/serving-code/<name>/<stamp>/code/`` with a ``provenance.json`` beside
    it (Git state of the folder, every file's SHA-256), as a training job's code is kept."""
    import hashlib
    import json
    import secrets
    import tempfile

    from ..config import current_config
    from ..provenance import capture_git
    from ..provenance.snapshot import snapshot_folder

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = OssUri(current_config().bucket, f"pai-jupyter/serving-code/{name}/{stamp}-{secrets.token_hex(3)}/")
    with tempfile.TemporaryDirectory(prefix="pai-serving-code-") as tmp:
        dest = Path(tmp) / "code"
        snapshot = snapshot_folder(folder, dest)
        files = {
            p.relative_to(dest).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(dest.rglob("*"))
            if p.is_file()
        }
        uri = be.storage.upload(dest, base.join("code").as_dir(), progress)
    provenance = {
        "source": str(folder.resolve()),
        "git": capture_git(folder),
        "files": files,
        "left_out": {"credentials": snapshot.credentials, "too_big": snapshot.skipped},
        "uploaded_at": time.time(),
    }
    be.storage.write_bytes(base.join("provenance.json"), json.dumps(provenance, indent=2, default=str).encode())
    return str(uri)


def _check_drift(be: Backend, model_uri: str, processor: str, job_id: str | None, strict: bool) -> Any:
    """Compare the model's training/saving environment with the serving runtime; refuse under ``strict``."""
    from .drift import check_deploy

    report = check_deploy(be, model_uri, processor, job_id)
    if strict and report.warnings:
        raise ValidationError(
            "--strict-env: the serving runtime differs from the model's: "
            + "; ".join(f.message for f in report.warnings),
            "serve it from an environment with those versions, retrain/re-save the model there, "
            "or deploy without --strict-env",
        )
    return report


def _record_deployment(be: Backend, record: ServiceRecord, model_uri: str, job_id: str | None, drift: Any) -> None:
    """Who deployed which version, when: read back by ``jupyter pai lineage``."""
    import getpass
    import socket

    from ..config import current_config
    from .lineage import write_deployment_record

    newest = max(record.versions, key=lambda v: v.version)
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        user = "unknown"
    write_deployment_record(
        be,
        current_config().bucket,
        {
            "service": record.name,
            "version": newest.version,
            "user": user,
            "host": socket.gethostname(),
            "at": time.time(),
            "backend": be.id,
            "model_uri": model_uri,
            "job_id": job_id,
            "drift": drift.to_dict(),
        },
    )


def _existing(be: Backend, name: str) -> ServiceRecord | None:
    try:
        return be.serving.get(name)
    except NotFoundError:
        return None


def services(backend: BackendArg = None) -> list[ServiceRecord]:
    return list(resolve_backend(backend).serving.list())


def service_page(
    limit: int = 50,
    cursor: str | None = None,
    q: str | None = None,
    state: str | None = None,
    backend: BackendArg = None,
) -> tuple[list[ServiceRecord], int, str | None]:
    """One page of services, newest first, filtered by ``q`` (a part of the name, any case) and
    ``state``: ``(services, total matching, next cursor)``. Services are few next to jobs (one per
    model a team serves, not one per run), so both backends list them whole and the page is cut
    here, in the server, never in the browser."""
    if limit < 1:
        raise ValidationError(f"limit must be at least 1, got {limit}")
    try:
        offset = int(cursor) if cursor else 0
    except ValueError:
        raise ValidationError(
            f"{cursor!r} is not a page cursor of this list", "pass the 'next' value of the previous page"
        ) from None
    records = sorted(services(backend), key=lambda r: (r.created_at, r.name), reverse=True)
    if q:
        records = [r for r in records if q.lower() in r.name.lower()]
    if state:
        records = [r for r in records if r.state == state]
    page = records[offset : offset + limit]
    more = offset + limit < len(records)
    return page, len(records), str(offset + limit) if more else None


def get_service(name: str, backend: BackendArg = None) -> Service:
    svc = Service(name, backend=backend)
    svc.refresh()
    return svc


__all__ = [
    "PredictError",
    "Service",
    "build_spec",
    "deploy",
    "eas_signature_headers",
    "get_service",
    "infer_processor",
    "services",
]
