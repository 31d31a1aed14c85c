"""Option definitions shared by the magics and the ``jupyter pai`` CLI.

Each concept is defined once here (a click option), applied to both the
``%%pai_train`` parser and ``jupyter pai train``; parsing produces a validated
``JobSpec`` plus the few front-end flags. Magic lines are parsed with the same
click commands (``parse_line``), so ``%%pai_train --help`` and
``jupyter pai train --help`` say the same thing.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from .durations import parse_duration
from .errors import PaiError, ValidationError
from .specs.job import FRAMEWORKS, SHARED_POOL, SPOT_STRATEGIES, DataInput, JobSpec, SpotPolicy

F = Callable[..., Any]


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_duration(
                value, f"--{param.name.replace('_', '-')}" if param and param.name else "duration"
            )
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def stack(*decorators: F) -> F:
    """One decorator that applies ``decorators`` in order (a reusable group of click options)."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


backend_option = click.option(
    "--backend", default=None, help="Backend to use for this call: local or aliyun (default: PaiConfig.backend)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
push_ref_option = click.option(
    "--push-ref/--no-push-ref",
    "push_ref",
    default=None,
    help="Push the job's refs/pai/jobs/<id> commit to the Git remote (default: PaiConfig.push_job_refs).",
)


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """A CLI command's output: ``data`` as JSON with ``--json``, else the text view (if any)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif text is not None:
        click.echo(text)


train_options = stack(
    click.option(
        "--framework",
        type=click.Choice(FRAMEWORKS),
        default="python",
        show_default=True,
        help="Training framework; decides the DLC job type and the rendezvous environment.",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1, max=256),
        default=1,
        show_default=True,
        help="Number of worker nodes (WORLD_SIZE).",
    ),
    click.option("--instance-type", default=None, help="ECS instance type per worker, e.g. ecs.gn6i-c4g1.xlarge."),
    click.option("--gpu-type", default=None, help="GPU type when the resource group is a quota."),
    click.option("--gpu-count", type=click.IntRange(min=0), default=0, help="GPUs per worker."),
    click.option("--cpu", type=click.IntRange(min=1), default=None, help="CPU cores per worker."),
    click.option("--memory", default=None, help="Memory per worker, e.g. 16Gi."),
    click.option(
        "--resource-group",
        default=SHARED_POOL,
        show_default=True,
        help=f"Resource group / quota id; '{SHARED_POOL}' is the shared pool.",
    ),
    click.option("--workspace-id", default=None, help="PAI workspace id (default: PaiConfig.workspace_id)."),
    click.option(
        "--image", default=None, help="Container image (DLC); default: PAI's official image per framework."
    ),
    click.option("--spot", is_flag=True, help="Run on spot (preemptible) instances; checkpoint!"),
    click.option(
        "--spot-strategy", type=click.Choice(SPOT_STRATEGIES), default=None, help="Spot bidding strategy."
    ),
    click.option(
        "--spot-discount-limit", type=float, default=None, help="Highest spot price as a share of list (0-1)."
    ),
    click.option("--spot-price-limit", type=float, default=None, help="Highest spot price in CNY per minute."),
    click.option(
        "--data",
        "data",
        multiple=True,
        metavar="[CHANNEL=]OSS_URI[:MOUNT]",
        help="Input data; repeat for several channels. Exposed as PAI_INPUT_<CHANNEL>.",
    ),
    click.option("--output", default=None, metavar="OSS_URI", help="Where the model goes (PAI_OUTPUT_MODEL)."),
    click.option(
        "--checkpoint", default=None, metavar="OSS_URI", help="Checkpoint folder (PAI_OUTPUT_CHECKPOINTS)."
    ),
    click.option("--checkpoint-interval", type=DURATION, default=None, help="Time between checkpoints, e.g. 15m."),
    click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Environment variable for the job."),
    click.option("--args", "args", default="", help="Arguments for the entry script, as one quoted string."),
    click.option("--max-run-time", type=DURATION, default=None, help="Stop the job after this long, e.g. 2h."),
    click.option("--priority", type=click.IntRange(1, 9), default=1, show_default=True, help="DLC priority 1-9."),
    click.option(
        "--max-restarts",
        type=click.IntRange(min=0),
        default=3,
        show_default=True,
        help="Restarts after preemption before the job is failed.",
    ),
    click.option(
        "--include",
        "include",
        multiple=True,
        metavar="PATTERN",
        help="Copy credential files matching PATTERN (e.g. .env) into the code snapshot; they are left out by default.",
    ),
    click.option(
        "--simulate-preemption-after",
        type=DURATION,
        default=None,
        help="Local backend: reclaim the workers this long after start (tests, demos).",
    ),
    backend_option,
)


def spec_from_options(name: str, entry: str = "main.py", **opts: Any) -> JobSpec:
    """Build and validate a JobSpec from parsed train options."""
    env = {}
    for item in opts.get("env") or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"--env {item!r} is not KEY=VALUE")
        env[key] = value
    spot_policy = None
    if any(opts.get(k) is not None for k in ("spot_strategy", "spot_discount_limit", "spot_price_limit")):
        spot_policy = SpotPolicy(
            strategy=opts.get("spot_strategy") or "SpotWithPriceLimit",
            discount_limit=opts.get("spot_discount_limit"),
            price_limit=opts.get("spot_price_limit"),
        )
    try:
        args = tuple(shlex.split(opts.get("args") or ""))
    except ValueError as exc:
        raise ValidationError(f"--args could not be split: {exc}") from None
    spec = JobSpec(
        name=name,
        framework=opts.get("framework") or "python",
        workers=opts.get("workers") or 1,
        instance_type=opts.get("instance_type"),
        gpu_type=opts.get("gpu_type"),
        gpu_count=opts.get("gpu_count") or 0,
        cpu=opts.get("cpu"),
        memory=opts.get("memory"),
        resource_group=opts.get("resource_group") or SHARED_POOL,
        workspace_id=opts.get("workspace_id"),
        image=opts.get("image"),
        spot=bool(opts.get("spot")),
        spot_policy=spot_policy,
        inputs=tuple(DataInput.parse(d) for d in opts.get("data") or ()),
        output=opts.get("output"),
        checkpoint=opts.get("checkpoint"),
        checkpoint_interval=opts.get("checkpoint_interval"),
        env=env,
        args=args,
        max_run_time=opts.get("max_run_time"),
        priority=opts.get("priority") or 1,
        max_restarts=3 if opts.get("max_restarts") is None else opts["max_restarts"],
        entry=entry,
    )
    return spec.validate()


@dataclass
class HelpShown:
    """Returned by ``parse_line`` when the user asked for ``--help``."""

    text: str


def join_continuation(line: str, cell: str) -> tuple[str, str]:
    """Options continued over several lines with a trailing ``\\`` (IPython passes
    only the first line of a cell magic as ``line``): move them out of the cell."""
    lines = cell.split("\n")
    while line.rstrip().endswith("\\") and lines:
        line = line.rstrip()[:-1] + " " + lines.pop(0).strip()
    return line, "\n".join(lines)


def parse_line(command: click.Command, line: str, prog: str) -> Any:
    """Run ``command``'s parser over a magic line; return what its callback returns.

    Raises ``PaiError`` with click's one-line message on a bad option.
    """
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise ValidationError(f"{prog}: could not parse the options: {exc}") from None
    if "--help" in argv or "-h" in argv:
        with click.Context(command, info_name=prog) as ctx:
            return HelpShown(command.get_help(ctx))
    try:
        ctx = command.make_context(prog, argv)
        with ctx:
            return command.invoke(ctx)
    except click.UsageError as exc:
        hint = f"see {prog} --help"
        message = exc.format_message()
        if isinstance(exc, click.NoSuchOption) and exc.possibilities and "did you mean" not in message.lower():
            hint = f"did you mean {', '.join('--' + p.lstrip('-') for p in exc.possibilities)}?"
        raise ValidationError(f"{prog}: {message}", hint) from None
    except click.exceptions.Exit:
        return HelpShown("")
    except PaiError:
        raise
