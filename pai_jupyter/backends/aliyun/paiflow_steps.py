"""What runs inside a compiled pipeline's containers on PAI (``python -m ...paiflow_steps gate|deploy``).

``gate`` (after the eval step's script): the candidate's figures (``metrics_file`` in the step's output
folder, else the last value of each metric ``report()`` wrote there), the serving version's recorded
ones (the JSON a deploy step wrote on OSS; none before the first deploy), judged by
``decisions.gate.decide_gate``; writes ``pass`` / ``fail`` to the output parameter file PAIFlow reads
(``/pai/outputs/parameters/gate``, see ``paiflow_compile``) and prints the decision. A failed gate is
not an error of the step: the deploy step's ``when`` skips it.

``deploy``: rolls the model out through the aliyun backend's EAS face (the usual gated blue-green
rollout) and records the candidate's figures as the serving version's, for the next run's gate.

An artifact reaches a container as ``{{inputs.artifacts.<name>}}``: a mounted path, an ``oss://``
URI, or the artifact's value (``{"location": {"bucket", "endpoint", "key"}}``, ``OSSArtifact.to_dict``
in the PAI SDK); ``locate`` accepts the three.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ...errors import PaiError, ValidationError
from ...storage.uri import OssUri

METRICS_DIR = ".pai-jupyter/metrics"


def locate(value: str) -> OssUri | Path:
    """An artifact as the container sees it: an OSS URI, or a local path."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("an artifact arrived empty", "check the step's inputs in the PAIFlow run")
    if text.startswith("oss://"):
        return OssUri.parse(text)
    if text.startswith("{"):
        try:
            location = json.loads(text)["location"]
            return OssUri(str(location["bucket"]), str(location["key"]))
        except (ValueError, KeyError, TypeError):
            raise ValidationError(f"artifact value {text[:80]!r} is not an OSS location") from None
    return Path(text)


def _read(where: OssUri | Path, name: str, storage: Any) -> bytes | None:
    if isinstance(where, Path):
        path = where / name
        return path.read_bytes() if path.is_file() else None
    from ...errors import NotFoundError

    try:
        return storage.read_bytes(where.as_dir().join(name))
    except NotFoundError:
        return None


def _listing(where: OssUri | Path, storage: Any) -> list[bytes]:
    """The report() files below ``<output>/.pai-jupyter/metrics``."""
    if isinstance(where, Path):
        folder = where / METRICS_DIR
        return [p.read_bytes() for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
    folder = where.as_dir().join(METRICS_DIR + "/")
    files = [o for o in storage.list(folder, recursive=True) if o.uri.endswith(".jsonl")]
    return [storage.read_bytes(OssUri.parse(o.uri)) for o in files]


def candidate_metrics(output: OssUri | Path, metrics_file: str, storage: Any = None) -> dict[str, float]:
    """The last value of every metric ``report()`` wrote, overlaid by ``metrics_file`` when the script
    wrote one (as the local control plane judges an eval step, ``PipelineEngine._eval_metrics``)."""
    values: dict[str, float] = {}
    for blob in _listing(output, storage):
        for line in blob.decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short when the job ended
            values.update({str(k): float(v) for k, v in (record.get("metrics") or {}).items()})
    raw = _read(output, metrics_file, storage)
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError:
            raise ValidationError(f"{metrics_file} in the eval step's output is not JSON") from None
        if not isinstance(data, dict):
            raise ValidationError(f"{metrics_file} must hold a JSON object of metric names to numbers")
        values.update(
            {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        )
    return values


def _storage() -> Any:
    from ...config import PaiConfig
    from .oss_storage import OssStorage

    return OssStorage(PaiConfig())


def run_gate(args: argparse.Namespace, storage: Any = None) -> dict[str, Any]:
    from ...decisions.gate import decide_gate
    from ...errors import NotFoundError

    output = locate(args.output)
    needs_storage = isinstance(output, OssUri) or bool(args.serving)
    storage = storage if storage is not None else (_storage() if needs_storage else None)
    candidate = candidate_metrics(output, args.metrics_file, storage)
    serving, version = None, None
    if args.serving:
        try:
            recorded = json.loads(storage.read_bytes(OssUri.parse(args.serving)))
            serving, version = recorded.get("metrics"), recorded.get("version")
        except NotFoundError:
            pass  # no version deployed by a pipeline yet
    decision = decide_gate(args.gate, candidate, serving)
    out = {**decision.to_dict(), "serving_version": version}
    result = Path(args.result)
    result.parent.mkdir(parents=True, exist_ok=True)
    result.write_text("pass" if decision.passed else "fail")
    if args.decision:
        Path(args.decision).write_text(json.dumps(out, sort_keys=True))
    return out


def run_deploy(args: argparse.Namespace, backend: Any = None, storage: Any = None) -> dict[str, Any]:
    from ...specs.pipeline import DeployOptions
    from ...specs.service import ServiceSpec

    model = locate(args.model)
    if not isinstance(model, OssUri):
        raise ValidationError(
            f"the model input arrived as the local path {model}, and EAS needs its OSS location",
            "give the deploy step an oss:// model, or check how the PAIFlow run passed the artifact",
        )
    options = DeployOptions.from_dict(json.loads(args.options or "{}"))
    # The ServiceSpec the local engine builds for a deploy step (PipelineEngine._deploy).
    spec = ServiceSpec.from_dict(
        {**options.options, "name": args.service, "processor": options.processor or "custom"}
    )
    if backend is None:
        from ...config import PaiConfig
        from . import AliyunBackend

        backend = AliyunBackend(PaiConfig())
    record = backend.serving.deploy(spec, str(model.as_dir()), options.plan, options.new_api_version)
    record = drive_rollout(backend, args.service, record, float(args.rollout_timeout), float(args.tick))
    figures: dict[str, float] = {}
    if args.metrics:
        storage = storage if storage is not None else backend.storage
        figures = candidate_metrics(locate(args.metrics), args.metrics_file, storage)
    version = max((v.version for v in record.versions), default=None)  # the one just rolled out
    if args.record:
        storage = storage if storage is not None else backend.storage
        body = {"service": args.service, "version": version, "model": str(model), "metrics": figures}
        storage.write_bytes(OssUri.parse(args.record), json.dumps(body, indent=2).encode())
    if version is not None:
        storage = storage if storage is not None else backend.storage
        _record_deployment(storage, args, model, version)
    return {"service": record.name, "version": version, "model": str(model), "metrics": figures}


def _record_deployment(storage: Any, args: argparse.Namespace, model: OssUri, version: int) -> None:
    """Who deployed the version (this pipeline on PAI, with the gate that let it through), where
    ``jupyter pai lineage SERVICE@vN`` reads it (``api.lineage.DEPLOYMENTS``; the record a deploy
    from the client API, or the local control plane's pipeline engine, writes)."""
    import socket
    import time

    gates = []
    if args.gate_decision and args.gate_decision.strip().startswith("{"):
        gates.append(json.loads(args.gate_decision))
    body = {
        "service": args.service,
        "version": version,
        "user": f"pipeline {args.pipeline} on PAI" if args.pipeline else "a PAI pipeline",
        "host": socket.gethostname(),
        "at": time.time(),
        "backend": "aliyun",
        "model_uri": str(model),
        "job_id": None,  # the model came from a PAIFlow step, not a DLC job of ours
        "pipeline": {"name": args.pipeline, "run": None, "step": args.step},
        "gates": gates,
    }
    bucket = OssUri.parse(args.record).bucket if args.record else model.bucket  # the registering config's
    uri = OssUri(bucket, f"pai-jupyter/deployments/{args.service}/v{version}.json")
    storage.write_bytes(uri, json.dumps(body, indent=2, default=str).encode())


def drive_rollout(backend: Any, service: str, record: Any, timeout: float, tick: float) -> Any:
    """Reconcile the rollout until it ends: no watcher of ours is left once the step's container
    exits, so the step itself drives it (``reconcile_service``, as ``Service.wait_rollout`` does).
    A rollout that fails or is aborted fails the step, and nothing is recorded as serving."""
    import time

    from ...errors import RemoteError
    from ...records import ROLLOUT_ACTIVE, ROLLOUT_SUCCEEDED

    deadline = time.monotonic() + timeout
    while record.rollout is not None and record.rollout.state in ROLLOUT_ACTIVE:
        if time.monotonic() > deadline:
            raise RemoteError(
                f"the rollout of {service} is still {record.rollout.state} after {timeout:.0f}s",
                f"follow it with `jupyter pai services show {service}`; the pipeline step gives up here",
                504,
            )
        time.sleep(tick)
        record = backend.serving.reconcile_service(service)
    if record.rollout is not None and record.rollout.state != ROLLOUT_SUCCEEDED:
        raise RemoteError(
            f"the rollout of {service} ended {record.rollout.state}: {record.rollout.reason or 'no reason given'}",
            "the serving version is unchanged; see `jupyter pai services show` for the figures",
            409,
        )
    return record


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paiflow_steps", description="pai-jupyter steps inside a PAIFlow run")
    sub = p.add_subparsers(dest="command", required=True)
    gate = sub.add_parser("gate")
    gate.add_argument("--gate", required=True)
    gate.add_argument("--output", required=True)
    gate.add_argument("--metrics-file", default="metrics.json")
    gate.add_argument("--serving", default="")
    gate.add_argument("--result", required=True)
    gate.add_argument("--decision", default="", help="where to write the decision with its figures (JSON)")
    deploy = sub.add_parser("deploy")
    deploy.add_argument("--service", required=True)
    deploy.add_argument("--options", default="{}")
    deploy.add_argument("--model", required=True)
    deploy.add_argument("--record", default="")
    deploy.add_argument("--metrics", default="")
    deploy.add_argument("--metrics-file", default="metrics.json")
    deploy.add_argument("--pipeline", default="")
    deploy.add_argument("--step", default="")
    deploy.add_argument("--gate-decision", default="", help="the eval step's decision (JSON)")
    deploy.add_argument("--rollout-timeout", default="21600", help="seconds to drive the rollout for")
    deploy.add_argument("--tick", default="5", help="seconds between reconciles")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = run_gate(args) if args.command == "gate" else run_deploy(args)
    except PaiError as exc:
        print(f"pai-jupyter {args.command}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover - the container's entry point
    sys.exit(main())
