"""Lineage: from an endpoint version (or a job) back to the exact code, environment and data.

``service_lineage("svc", 2)`` walks: endpoint version -> model URI and its
content hash -> training job -> commit SHA and ``refs/pai/jobs/<id>`` ->
environment summary -> data fingerprints -> spec -> the rollout that put the
version in service and who deployed it, when. ``job_lineage(job_id)`` starts at
the job. Everything is read through the backend protocol (records, provenance,
storage), so the walk is the same on the local backend and on PAI.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..errors import NotFoundError, PaiError, ValidationError
from ..provenance.redact import redact
from ..storage.uri import OssUri

# Files written beside a model that are not the artefact (provenance carries timestamps;
# ``.keep`` is the folder marker the aliyun backend writes before a read-write OSS mount).
NOT_ARTEFACTS = frozenset({"provenance.json", ".keep"})
DEPLOYMENTS = "pai-jupyter/deployments"
# Lineage reads at most this much of a model to hash it (the sidebar asks on every open);
# reproduce hashes everything.
LINEAGE_HASH_BYTES = 512 * 2**20
_TARGET = re.compile(r"^(?P<name>[^@\s]+)(?:@v?(?P<version>\d+))?$")


# -- artefacts ----------------------------------------------------------------------------
def artefact_manifest(storage: Any, uri: str, max_bytes: int | None = None) -> dict[str, Any]:
    """``{"uri", "files": {relative path: {"sha256", "bytes"}}, "sha256", "complete"}`` of a model.

    ``sha256`` hashes the sorted ``path sha256`` lines: one digest for the whole artefact. With
    ``max_bytes``, files past that many bytes read are not downloaded: they enter the digest by
    size and ETag/mtime (``"sha256": None``) and ``complete`` is False.
    """
    base = OssUri.parse(uri, "model URI")
    items = [i for i in storage.list(base, recursive=True) if not i.is_dir]
    files: dict[str, dict[str, Any]] = {}
    read = 0
    prefix = base.as_dir().key
    for item in items:
        key = OssUri.parse(item.uri).key
        rel = key[len(prefix) :] if key.startswith(prefix) else Path(key).name
        if Path(rel).name in NOT_ARTEFACTS:
            continue
        if max_bytes is not None and read + item.size > max_bytes:
            stamp = f"etag:{item.etag}" if item.etag else f"mtime:{item.modified:.6f}"
            files[rel] = {"sha256": None, "bytes": item.size, "listed": stamp}
            continue
        data = storage.read_bytes(OssUri.parse(item.uri))
        read += len(data)
        files[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    lines = [f"{k} {v['sha256'] or str(v['bytes']) + ' ' + v['listed']}\n" for k, v in sorted(files.items())]
    return {
        "uri": str(base),
        "files": dict(sorted(files.items())),
        "sha256": "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest(),
        "complete": all(v["sha256"] for v in files.values()),
    }


# -- pieces --------------------------------------------------------------------------------
def environment_summary(provenance: dict[str, Any]) -> dict[str, Any]:
    env = provenance.get("environment") or {}
    python = (env.get("python") or {}).get("version")
    frameworks = {k: v.get("version") for k, v in (env.get("frameworks") or {}).items() if isinstance(v, dict)}
    cuda = env.get("cuda") or {}
    return {
        "python": python,
        "frameworks": frameworks,
        "cuda": cuda.get("cuda_driver") if isinstance(cuda, dict) else None,
        "platform": (env.get("platform") or {}).get("system"),
        "packages": len(env.get("packages") or {}),
    }


def _ref_in_repo(code: dict[str, Any]) -> bool | None:
    """Whether the job's ref still exists in the repository it was made in (None: repo not here)."""
    repo, ref = code.get("repo"), code.get("ref")
    if not repo or not ref or not Path(repo).is_dir():
        return None
    proc = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--verify", "-q", ref], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and proc.stdout.strip() == code.get("commit")


def code_summary(provenance: dict[str, Any]) -> dict[str, Any]:
    git = provenance.get("git") or {}
    code = dict(provenance.get("code") or {})
    return {
        "commit": provenance.get("code_commit"),
        "ref": provenance.get("code_ref"),
        "ref_present": _ref_in_repo(code),
        "base": code.get("base") or git.get("commit"),
        "branch": git.get("branch"),
        "remote": git.get("remote"),
        "dirty": git.get("dirty"),
        "pushed_to": code.get("pushed_to"),
        "repo": code.get("repo") or git.get("root"),
        "entry_sha256": (provenance.get("entry") or {}).get("sha256"),
    }


def job_lineage(job_id: str, backend: Backend, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Job -> code -> environment -> data -> spec -> model (with its hash when the job succeeded)."""
    from .jobs import Job

    record = None
    try:
        record = backend.training.get(job_id)
    except NotFoundError:
        if provenance is None:
            raise
    if provenance is None:
        provenance = Job(record, backend).provenance if record is not None else {}
    recorded_job = provenance.get("job") or {}
    model_uri = (record.outputs.get("model") if record is not None else None) or (
        recorded_job.get("outputs") or {}
    ).get("model")
    out: dict[str, Any] = {
        "job": {
            "id": job_id,
            "name": record.name if record is not None else recorded_job.get("name"),
            "state": record.state if record is not None else recorded_job.get("state"),
            "backend": record.backend if record is not None else recorded_job.get("backend"),
            "created_at": record.created_at if record is not None else None,
            "finished_at": record.finished_at if record is not None else recorded_job.get("finished_at"),
            "model_uri": model_uri,
        },
        "code": code_summary(provenance),
        "environment": environment_summary(provenance),
        "data": provenance.get("data_fingerprints") or {u: None for u in provenance.get("data") or []},
        # Redacted like provenance: lineage records get pasted into reviews and tickets.
        "spec": redact(record.spec.to_dict()) if record is not None else provenance.get("spec") or {},
        "reproduces": provenance.get("reproduces"),
    }
    return out


def _deployment_record(backend: Backend, bucket: str, service: str, version: int) -> dict[str, Any] | None:
    try:
        return json.loads(backend.storage.read_bytes(OssUri(bucket, f"{DEPLOYMENTS}/{service}/v{version}.json")))
    except (NotFoundError, ValueError):
        return None


def write_deployment_record(backend: Backend, bucket: str, record: dict[str, Any]) -> None:
    """Who deployed which version, when (read back by ``service_lineage``)."""
    uri = OssUri(bucket, f"{DEPLOYMENTS}/{record['service']}/v{record['version']}.json")
    backend.storage.write_bytes(uri, json.dumps(record, indent=2, default=str).encode())


def service_lineage(name: str, version: int | None, backend: Backend) -> dict[str, Any]:
    """Endpoint version -> model -> job -> code -> environment -> data -> spec -> rollout and deployer."""
    from ..config import current_config

    record = backend.serving.get(name)
    if version is None:
        version = record.serving_version or max(v.version for v in record.versions)
    v = record.version(version)
    manifest = artefact_manifest(backend.storage, v.model_uri, max_bytes=LINEAGE_HASH_BYTES)
    provenance: dict[str, Any] | None = None
    if v.provenance_uri:
        try:
            provenance = json.loads(backend.storage.read_bytes(OssUri.parse(v.provenance_uri)))
        except (NotFoundError, ValueError, PaiError):
            provenance = None
    job_id = v.job_id or ((provenance or {}).get("job") or {}).get("id")
    job = job_lineage(job_id, backend, provenance) if job_id else None
    rollout = record.rollout if record.rollout is not None and record.rollout.to_version == version else None
    events = [
        {"ts": e.ts, "kind": e.kind, "message": e.message}
        for e in backend.serving.events(name)
        if e.version == version and e.kind in ("deploy", "rollout", "gate", "revert", "rollback")
    ]
    return {
        "service": {
            "name": record.name,
            "backend": record.backend,
            "endpoint": record.endpoint,
            "env": record.env,
        },
        "version": {
            "number": v.version,
            "state": v.state,
            "weight": v.weight,
            "processor": v.processor,
            "created_at": v.created_at,
        },
        "model": {
            "uri": v.model_uri,
            "sha256": manifest["sha256"],
            "hashed_in_full": manifest["complete"],
            "files": manifest["files"],
            "provenance_uri": v.provenance_uri,
        },
        **(job or {"job": None, "code": None, "environment": None, "data": None, "spec": None}),
        "rollout": rollout.to_dict() if rollout is not None else None,
        "deployed": _deployment_record(backend, current_config().bucket, name, version),
        "events": events[-20:],
    }


def parse_target(target: str) -> tuple[str, int | None]:
    match = _TARGET.match(target.strip())
    if not match:
        raise ValidationError(
            f"{target!r} is not SERVICE, SERVICE@vN or a job id", "e.g. digits-svc@v2 or job-1a2b"
        )
    version = match.group("version")
    return match.group("name"), int(version) if version else None


def lineage(target: str, backend: Backend) -> dict[str, Any]:
    """``SERVICE``, ``SERVICE@vN`` or a job id."""
    name, version = parse_target(target)
    if version is None:
        try:
            return job_lineage(name, backend)
        except NotFoundError:
            pass
    try:
        return service_lineage(name, version, backend)
    except NotFoundError as exc:
        if version is not None:
            raise
        raise NotFoundError(
            f"{target!r} is neither a job nor a service on the {backend.id} backend",
            "list them with `jupyter pai jobs list` / `jupyter pai services list`",
        ) from exc


# -- text ----------------------------------------------------------------------------------
def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _size(n: int | None) -> str:
    n = int(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def render_lineage(data: dict[str, Any]) -> str:
    lines: list[str] = []
    if "service" in data:
        svc, v, model = data["service"], data["version"], data["model"]
        lines.append(
            f"{svc['name']}@v{v['number']}  ({svc['backend']}, {v['state']}, {v['weight']:g} % of traffic)"
        )
        part = "" if model.get("hashed_in_full", True) else ", large files by size and ETag"
        lines.append(f"  model    {model['uri']}  {model['sha256'][:19]}…  ({len(model['files'])} file(s){part})")
    job = data.get("job")
    if not job:
        lines.append("  job      unknown: the model was not deployed from a pai-jupyter job")
    else:
        lines.append(
            f"  job      {job['id']} ({job['name']}) {job['state']} on {job['backend']}, finished {_when(job['finished_at'])}"
        )
        code = data["code"] or {}
        if code.get("commit"):
            present = {True: "", False: " (ref gone from the repo)", None: ""}[code.get("ref_present")]
            pushed = f", pushed to {code['pushed_to']}" if code.get("pushed_to") else ""
            lines.append(f"  code     {code['commit']}  {code['ref']}{present}{pushed}")
            lines.append(
                f"           base {str(code.get('base') or '-')[:12]} on {code.get('branch') or '(detached)'}"
                + (", uncommitted changes included" if code.get("dirty") else "")
                + (f"  in {code['repo']}" if code.get("repo") else "")
            )
        else:
            lines.append(
                "  code     no commit recorded (not a Git repository, or a job from before refs/pai/jobs)"
            )
        env = data["environment"] or {}
        fw = ", ".join(f"{k} {ver}" for k, ver in sorted((env.get("frameworks") or {}).items())) or "no framework"
        lines.append(f"  env      Python {env.get('python') or '?'}; {fw}; {env.get('packages', 0)} packages")
        fps = data.get("data") or {}
        if not fps:
            lines.append("  data     no --data inputs")
        for channel, fp in fps.items():
            if not fp:
                lines.append(f"  data     {channel}: no fingerprint recorded")
                continue
            state = "complete" if fp.get("complete") else f"sampled: {fp['sampled']['why']}"
            lines.append(
                f"  data     {channel}: {fp['uri']}  {fp['objects']} object(s), {_size(fp['bytes'])}, "
                f"{fp['digest'][:19]}… ({state})"
            )
        spec = data.get("spec") or {}
        lines.append(
            f"  spec     {spec.get('framework', '?')}, {spec.get('workers', '?')} worker(s), entry "
            f"{(spec.get('workdir') + '/') if spec.get('workdir') else ''}{spec.get('entry', '?')}"
            + (f", args {' '.join(spec['args'])}" if spec.get("args") else "")
        )
        if data.get("reproduces"):
            lines.append(f"  reruns   job {data['reproduces'].get('job')}")
    if "service" in data:
        rollout = data.get("rollout")
        if rollout:
            plan = " -> ".join(f"{w:g}%" for w in rollout["plan"])
            lines.append(
                f"  rollout  v{rollout['from_version']} -> v{rollout['to_version']} {rollout['state']} ({plan}), "
                f"{_when(rollout['started_at'])} - {_when(rollout['updated_at'])}"
            )
        else:
            # The service keeps its latest rollout only; an earlier one is told by its events.
            events = data.get("events") or []
            how = "created with the service" if data["version"]["number"] == 1 else "an earlier rollout"
            last = events[-1] if events else None
            lines.append(
                f"  rollout  {how}" + (f"; last: {last['message']} ({_when(last['ts'])})" if last else "")
            )
        deployed = data.get("deployed")
        if deployed:
            lines.append(
                f"  by       {deployed.get('user')}@{deployed.get('host')} at {_when(deployed.get('at'))}"
            )
        else:
            lines.append("  by       unknown (deployed without pai-jupyter's client)")
    return "\n".join(lines)
