"""Option definitions shared by the magics and the ``jupyter pai`` CLI.

Each concept is defined once here (a click option), applied to both the
``%%pai_train`` parser and ``jupyter pai train``; parsing produces a validated
``JobSpec`` plus the few front-end flags. Magic lines are parsed with the same
click commands (``parse_line``), so ``%%pai_train --help`` and
``jupyter pai train --help`` say the same thing.
"""

from __future__ import annotations

import shlex
from typing import Any

import click

from ...errors import ValidationError
from ...specs.job import FRAMEWORKS, SHARED_POOL, SPOT_STRATEGIES, DataInput, JobSpec, SpotPolicy
from .common import DURATION, backend_option, requirements_from_file, stack

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
    click.option(
        "--hp",
        "hp",
        multiple=True,
        metavar="NAME=VALUE",
        help="Hyperparameter; repeat for several. The script gets PAI_HPS (JSON), PAI_HPS_<NAME>, PAI_USER_ARGS"
        " and /ml/input/config/hyperparameters.json, as on PAI.",
    ),
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
        "--requirements",
        "requirements",
        default=None,
        metavar="FILE",
        help="Install this requirements file in the job instead of the kernel's versions of what the code imports.",
    ),
    click.option(
        "--no-env-sync",
        "no_env_sync",
        is_flag=True,
        help="Install nothing: run with the image's packages, not the kernel's versions.",
    ),
    click.option(
        "--simulate-preemption-after",
        type=DURATION,
        default=None,
        help="Local backend: reclaim the workers this long after start (tests, demos).",
    ),
    click.option(
        "--experiment",
        default=None,
        metavar="NAME",
        help="Group this run with others to compare them (default: the notebook's name, or the script's).",
    ),
    click.option(
        "--autolog/--no-autolog",
        "autolog",
        default=True,
        help="Send Hugging Face Trainer, Lightning and Keras metrics to report() without code changes.",
    ),
    backend_option,
)


push_ref_option = click.option(
    "--push-ref/--no-push-ref",
    "push_ref",
    default=None,
    help="Push the job's refs/pai/jobs/<id> commit to the Git remote (default: PaiConfig.push_job_refs).",
)


def spec_from_options(name: str, entry: str = "main.py", **opts: Any) -> JobSpec:
    """Build and validate a JobSpec from parsed train options."""
    env = {}
    for item in opts.get("env") or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"--env {item!r} is not KEY=VALUE")
        env[key] = value
    hyperparameters = {}
    for item in opts.get("hp") or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--hp {item!r} is not NAME=VALUE", "write it like --hp lr=0.01")
        if key.strip() in hyperparameters:
            raise ValidationError(f"--hp {key.strip()} is given twice", "give each hyperparameter once")
        hyperparameters[key.strip()] = value
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
    env_sync, requirements = "off" if opts.get("no_env_sync") else "auto", ()
    if opts.get("requirements"):
        requirements = requirements_from_file(opts["requirements"])
        env_sync = "off" if opts.get("no_env_sync") else "file"
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
        experiment=opts.get("experiment"),
        autolog=opts.get("autolog", True) is not False,
        hyperparameters=hyperparameters,
        env_sync=env_sync,
        requirements=requirements,
    )
    return spec.validate()
