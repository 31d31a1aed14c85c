"""Option definitions shared by ``%pai_deploy`` and ``jupyter pai deploy``.

Each option is defined once here and applied to both front ends; parsing
produces a ``DeployRequest`` (the arguments of ``service_client.deploy``),
validated as far as possible before any model is touched: a bad plan, a prod
service with ``--min 0`` or an unknown processor fail at once, in one line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ...config import current_config
from ...errors import ValidationError
from ...specs.batching import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_TIMEOUT_MS, TIMEOUT_HINT
from ...specs.service import (
    BODY_RANGE,
    DEFAULT_MAX_BODY,
    ENVIRONMENTS,
    MAX_BODY_LIMIT,
    PROCESSORS,
    AutoscalePolicy,
    RolloutPlan,
)
from .common import DURATION, backend_option, requirements_from_file, stack

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)$", re.IGNORECASE)
_SIZE_UNIT = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


class ByteSize(click.ParamType):
    """``1048576``, ``512k``, ``8M``, ``8MiB``."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        size: float
        if isinstance(value, int):
            size = value
        else:
            m = _SIZE.match(str(value).strip())
            if not m:
                self.fail(f"{value!r} is not a size; write it like 1048576, 512k or 8M", param, ctx)
            size = float(m.group(1)) * _SIZE_UNIT[m.group(2).lower()]
        if not 1 <= size <= MAX_BODY_LIMIT:  # float: a 400-digit figure is inf here, not an overflow
            shown = str(value) if len(str(value)) <= 40 else str(value)[:36] + "..."
            self.fail(f"{shown} is out of range; the accepted range is {BODY_RANGE}", param, ctx)
        return int(size)


class Rate(click.ParamType):
    """A share: ``0.05`` or ``5%``."""

    name = "rate"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            self.fail(f"{value!r} is not a rate; write it like 0.05 or 5%", param, ctx)


class Millis(click.ParamType):
    """Whole milliseconds: ``20`` or ``20ms`` (the range is checked with the spec)."""

    name = "ms"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        text = text[:-2].strip() if text.endswith("ms") else text
        if not text.isdigit():
            self.fail(f"{value!r} is not a number of milliseconds; {TIMEOUT_HINT}", param, ctx)
        return int(text)


BYTES, RATE, MILLIS = ByteSize(), Rate(), Millis()
model_option = click.option(
    "--model",
    required=True,
    metavar="JOB_ID|OSS_URI|PATH",
    help="A training job id (its model output), an oss:// URI, or a local file or folder (uploaded first).",
)

service_options = stack(
    click.option(
        "--processor",
        type=click.Choice(PROCESSORS),
        default=None,
        help="Model format; default: from the model's files (.onnx, .pt/.ts, .skops/.pkl/.joblib, .json/.ubj, saved_model.pb).",
    ),
    click.option(
        "--command",
        default=None,
        help="Custom processor: a command that listens on the port in $LISTENING_PORT.",
    ),
    click.option(
        "--code",
        "code",
        default=None,
        metavar="DIR",
        help="Custom processor: your server's folder, uploaded and shown at /ml/usercode (the command runs there).",
    ),
    click.option(
        "--requirements",
        "requirements",
        default=None,
        metavar="FILE",
        help="Custom processor: a requirements file installed before the command starts.",
    ),
    click.option(
        "--instances",
        type=click.IntRange(min=0),
        default=None,
        help="Instances to start with (default 1, or --min).",
    ),
    click.option("--cpu", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True),
    click.option(
        "--memory", "memory_mb", type=click.IntRange(min=64), default=1024, show_default=True, help="MB."
    ),
    click.option("--gpu", type=click.IntRange(min=0), default=0, show_default=True),
    click.option(
        "--resource-group", default=None, help="EAS resource group (eas-r-...); default: the public pool."
    ),
    click.option(
        "--instance-type",
        default=None,
        help="EAS public pool: the ECS instance type (GPU services need one, e.g. ecs.gn6i-c4g1.xlarge).",
    ),
    click.option(
        "--elastic-inference",
        default=None,
        help="EAS: an Elastic Inference accelerator (eais.ei-a6.2xlarge) attached to a CPU --instance-type.",
    ),
    click.option(
        "--image",
        default=None,
        help="EAS: the image our model server (or --command) runs in; its Python decides the framework versions.",
    ),
    click.option(
        "--env",
        type=click.Choice(ENVIRONMENTS),
        default=None,
        help="Environment (default: dev, or the service's own); prod needs --min 1 or more (no scale to zero).",
    ),
    click.option("--min", "min_", type=click.IntRange(min=0), default=None, help="Autoscaler: fewest instances."),
    click.option("--max", "max_", type=click.IntRange(min=1), default=None, help="Autoscaler: most instances."),
    click.option(
        "--qps-per-instance",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Autoscaler: QPS one instance should take (default 50).",
    ),
    click.option(
        "--scale-in-cooldown", type=DURATION, default=None, help="Autoscaler: wait before scaling in (300s)."
    ),
    click.option("--scale-to-zero", is_flag=True, help="Autoscaler: stop all instances when idle (dev/staging)."),
    click.option("--idle-grace", type=DURATION, default=None, help="Idle time before scaling to zero (10m)."),
    click.option("--signature", default=None, metavar="JSON|FILE", help="Declared signature (custom processors)."),
    click.option("--max-body", "max_body_bytes", type=BYTES, default=None, help="Largest request body (8M)."),
    click.option("--token", default=None, help="Service token (default: generated)."),
    click.option(
        "--max-batch-size",
        type=int,
        default=None,
        metavar="N",
        help=f"Batch up to N concurrent requests in one model call (2-1024; EAS rpc.max_batch_size; "
        f"default with --max-batch-timeout: {DEFAULT_MAX_BATCH_SIZE}).",
    ),
    click.option(
        "--max-batch-timeout",
        "max_batch_timeout_ms",
        type=MILLIS,
        default=None,
        metavar="MS",
        help=f"Longest a request waits for its batch to fill, in ms (0-10000; EAS rpc.max_batch_timeout; "
        f"default with --max-batch-size: {DEFAULT_MAX_BATCH_TIMEOUT_MS}).",
    ),
    click.option(
        "--trust-pickle",
        is_flag=True,
        default=False,
        help="Load a pickled scikit-learn model (.pkl/.joblib): unpickling runs code from the file, so only "
        "for models you made or trust (default: c.PaiConfig.trust_pickle). A .skops file needs no trust.",
    ),
)

plan_options = stack(
    click.option("--plan", default=None, metavar="10,50,100", help="Rollout steps, percent on the new version."),
    click.option("--bake", type=DURATION, default=None, help="Time each step is held before it can pass (60s)."),
    click.option("--min-requests", type=click.IntRange(min=0), default=None, help="Requests a step needs (100)."),
    click.option(
        "--max-p95-ms", type=click.FloatRange(min=0, min_open=True), default=None, help="Absolute p95 cap."
    ),
    click.option("--max-error-rate", type=RATE, default=None, help="Absolute error-rate cap (0.05 or 5%)."),
    click.option(
        "--max-p95-ratio", type=click.FloatRange(min=1), default=None, help="p95 vs the old version (1.5)."
    ),
    click.option(
        "--max-error-rate-delta", type=RATE, default=None, help="Error rate above the old version's (0.02)."
    ),
    click.option(
        "--new-api-version",
        is_flag=True,
        help="Accept an incompatible signature (deploy it as a separate service or path).",
    ),
)

strict_env_option = click.option(
    "--strict-env",
    is_flag=True,
    help="Refuse to deploy when the serving runtime's library/Python versions differ from the model's "
    "(default: warn).",
)
deploy_options = stack(model_option, service_options, plan_options, strict_env_option, backend_option)


@dataclass
class DeployRequest:
    """The parsed, pre-validated arguments of ``service_client.deploy``."""

    name: str
    model: str
    processor: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # ServiceSpec fields
    plan: RolloutPlan | None = None
    new_api_version: bool = False
    backend: str | None = None
    strict_env: bool = False

    def deploy(self, progress: Any = None) -> Any:
        from ...api.services import deploy

        return deploy(
            self.name,
            self.model,
            processor=self.processor,
            plan=self.plan,
            new_api_version=self.new_api_version,
            backend=self.backend,
            progress=progress,
            strict_env=self.strict_env,
            **self.options,
        )


def autoscaler_from_options(
    env: str,
    instances: int | None = None,
    min_: int | None = None,
    max_: int | None = None,
    qps_per_instance: float | None = None,
    scale_in_cooldown: float | None = None,
    scale_to_zero: bool = False,
    idle_grace: float | None = None,
) -> AutoscalePolicy | None:
    """None when no autoscaler option is given (a fixed number of instances)."""
    given = (min_, max_, qps_per_instance, scale_in_cooldown, idle_grace)
    if all(v is None for v in given) and not scale_to_zero:
        return None
    lo = min_ if min_ is not None else (0 if scale_to_zero else 1)
    hi = max_ if max_ is not None else max(lo, instances or 1)
    defaults = AutoscalePolicy()
    policy = AutoscalePolicy(
        min=lo,
        max=hi,
        qps_per_instance=qps_per_instance if qps_per_instance is not None else defaults.qps_per_instance,
        scale_in_cooldown_s=scale_in_cooldown if scale_in_cooldown is not None else defaults.scale_in_cooldown_s,
        # --min 0 is scale to zero (EAS's reading); --scale-to-zero without --min means --min 0.
        scale_to_zero=scale_to_zero or lo == 0,
        idle_grace_s=idle_grace if idle_grace is not None else defaults.idle_grace_s,
    )
    return policy.validate(env)


def plan_from_options(
    plan: str | None = None,
    bake: float | None = None,
    min_requests: int | None = None,
    max_p95_ms: float | None = None,
    max_error_rate: float | None = None,
    max_p95_ratio: float | None = None,
    max_error_rate_delta: float | None = None,
) -> RolloutPlan | None:
    """None when no plan option is given (the backend's default plan)."""
    gates = {
        "bake_s": bake,
        "min_requests": min_requests,
        "max_p95_ms": max_p95_ms,
        "max_error_rate": max_error_rate,
        "max_p95_ratio": max_p95_ratio,
        "max_error_rate_delta": max_error_rate_delta,
    }
    gates = {k: v for k, v in gates.items() if v is not None}
    if plan is None and not gates:
        return None
    if plan is None:
        return RolloutPlan(**gates).validate()
    return RolloutPlan.parse(plan, **gates)


def signature_from_option(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    source = text
    if not text.lstrip().startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValidationError(f"--signature {text!r} is neither JSON nor a file", "give inline JSON or a path")
        source = path.read_text()
    try:
        data = json.loads(source)
    except ValueError as exc:
        raise ValidationError(f"--signature is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("--signature must be a JSON object with inputs and outputs")
    return data


def deploy_request(name: str, **opts: Any) -> DeployRequest:
    """Build a DeployRequest from parsed deploy options; raises ValidationError on bad combinations."""
    env = opts.get("env")
    autoscaler = autoscaler_from_options(
        env or "dev",
        instances=opts.get("instances"),
        min_=opts.get("min_"),
        max_=opts.get("max_"),
        qps_per_instance=opts.get("qps_per_instance"),
        scale_in_cooldown=opts.get("scale_in_cooldown"),
        scale_to_zero=bool(opts.get("scale_to_zero")),
        idle_grace=opts.get("idle_grace"),
    )
    if autoscaler is None and env == "prod" and opts.get("instances") == 0:
        raise ValidationError("prod services need at least one instance", "use --instances 1 or more")
    plan = plan_from_options(
        plan=opts.get("plan"),
        bake=opts.get("bake"),
        min_requests=opts.get("min_requests"),
        max_p95_ms=opts.get("max_p95_ms"),
        max_error_rate=opts.get("max_error_rate"),
        max_p95_ratio=opts.get("max_p95_ratio"),
        max_error_rate_delta=opts.get("max_error_rate_delta"),
    )
    options = {
        "instances": opts.get("instances"),
        "cpu": opts.get("cpu") or 1.0,
        "memory_mb": opts.get("memory_mb") or 1024,
        "gpu": opts.get("gpu") or 0,
        "resource_group": opts.get("resource_group"),
        "env": env,
        "autoscaler": autoscaler,
        "signature": signature_from_option(opts.get("signature")),
        "command": opts.get("command"),
        "max_body_bytes": DEFAULT_MAX_BODY if opts.get("max_body_bytes") is None else opts["max_body_bytes"],
        "token": opts.get("token"),
        "max_batch_size": opts.get("max_batch_size"),
        "max_batch_timeout_ms": opts.get("max_batch_timeout_ms"),
        "trust_pickle": bool(opts.get("trust_pickle")) or current_config().trust_pickle,
        "image": opts.get("image"),
        "instance_type": opts.get("instance_type"),
        "elastic_inference": opts.get("elastic_inference"),
        "code": opts.get("code"),
        "requirements": requirements_from_file(opts.get("requirements")),
    }
    from ...api.services import build_spec

    processor = opts.get("processor")
    if opts.get("command") and processor is None:
        processor = "custom"
    # everything that needs no model nor the service's current settings, checked now
    build_spec(name, processor or "onnx", **{**options, "env": env or "dev"})
    return DeployRequest(
        name=name,
        model=opts["model"],
        processor=processor,
        options=options,
        plan=plan,
        new_api_version=bool(opts.get("new_api_version")),
        backend=opts.get("backend"),
        strict_env=bool(opts.get("strict_env")),
    )
