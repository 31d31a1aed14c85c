"""Pipeline magics: ``%%pai_pipeline`` defines (and registers) a pipeline, ``%pai_pipelines``
lists, shows and steers them. Thin: parse, call the client API (``api.pipelines``), render.

The cell holds one step per line, ``KIND[ NAME]: OPTIONS``, with the options of the magic
each kind stands for::

    %%pai_pipeline digits-retrain --schedule "0 3 * * *" --on-new-objects oss://bucket/incoming/
    preprocess: --script prep.py --data raw=oss://bucket/incoming/
    train: --script train.py --input data=preprocess.output --framework pytorch --gpu-count 1
    eval: --script eval.py --model train.model --data heldout=oss://bucket/heldout/ \\
          --gate "accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50"
    deploy: digits --model train.model --processor onnx --plan 10,50,100

(``preprocess`` / ``train`` / ``eval``: ``%%pai_train``'s options plus ``--script``, ``--input
CHANNEL=STEP.ARTEFACT`` and ``--after STEP``; ``eval`` adds ``--gate``, ``--service`` and
``--metrics-file``; ``deploy``: ``%pai_deploy``'s.) Lines ending in ``\\`` continue; ``#``
starts a comment line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ...api import pipelines as client
from ...errors import ValidationError
from ...specs.pipeline import STEP_KINDS
from ..options.common import DURATION, HelpShown, backend_option, parse_line
from ..options.jobs import spec_from_options, train_options
from ..options.services import deploy_options, deploy_request
from ..render.pipelines import pipeline_details, pipelines_table, run_details, runs_table
from .common import MagicHelpers, guard


@dataclass
class PipelineArgs:
    name: str
    schedules: tuple[str, ...]
    prefixes: tuple[str, ...]
    debounce: float
    allow_overlap: bool
    run: bool
    wait: bool
    as_name: str
    backend: str | None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@click.command("%%pai_pipeline", help="Define a pipeline, one step per line of the cell, and register it.")
@click.argument("name")
@click.option("--schedule", "schedules", multiple=True, metavar="CRON", help="Run on this cron schedule (UTC).")
@click.option(
    "--on-new-objects", "prefixes", multiple=True, metavar="OSS_PREFIX", help="Run when objects land here."
)
@click.option("--debounce", type=DURATION, default=30.0, show_default=True, help="Quiet time before a run.")
@click.option("--allow-overlap", is_flag=True, help="Let a run start while another is running.")
@click.option("--description", default="", help="What the pipeline is for.")
@click.option("--run", "run_now", is_flag=True, help="Start a run once registered.")
@click.option("--wait", is_flag=True, help="With --run: block until the run ends.")
@click.option("--as", "as_name", default="_pai_pipeline", show_default=True, help="Variable for the Pipeline.")
@backend_option
def _pipeline_parser(
    name: str,
    schedules: tuple[str, ...],
    prefixes: tuple[str, ...],
    debounce: float,
    allow_overlap: bool,
    description: str,
    run_now: bool,
    wait: bool,
    as_name: str,
    backend: str | None,
) -> PipelineArgs:
    if not as_name.isidentifier():
        raise click.BadParameter(f"{as_name!r} is not a Python variable name", param_hint="--as")
    return PipelineArgs(
        name, schedules, prefixes, debounce, allow_overlap, run_now, wait, as_name, backend, description
    )


_step_options = [
    click.option("--script", required=True, metavar="FILE", help="The step's entry script."),
    click.option("--input", "inputs", multiple=True, metavar="CHANNEL=STEP.ARTEFACT", help="Read an artefact."),
    click.option("--after", multiple=True, metavar="STEP", help="Run after this step."),
]


def _job_command(kind: str) -> click.Command:
    def callback(**opts: Any) -> dict[str, Any]:
        return opts

    decorated: Any = train_options(callback)
    for option in _step_options:
        decorated = option(decorated)
    if kind == "eval":
        decorated = click.option("--model", default="train.model", show_default=True, help="The model to judge.")(
            decorated
        )
        decorated = click.option("--gate", default=None, help="e.g. 'accuracy >= serving.accuracy - 0.005'.")(
            decorated
        )
        decorated = click.option("--service", default=None, help="Whose serving version the gate reads.")(
            decorated
        )
        decorated = click.option("--metrics-file", default="metrics.json", show_default=True)(decorated)
    return click.command(kind, help=f"A {kind} step (the options of %%pai_train).")(decorated)


@click.command("deploy", help="A deploy step (the options of %pai_deploy).")
@click.argument("service")
@deploy_options
@click.option("--after", multiple=True, metavar="STEP", help="Run after this step (default: every eval step).")
def _deploy_step(service: str, after: tuple[str, ...], **opts: Any) -> dict[str, Any]:
    return {"service": service, "after": after, "request": deploy_request(service, **opts)}


_COMMANDS: dict[str, click.Command] = {k: _job_command(k) for k in ("preprocess", "train", "eval")}
_COMMANDS["deploy"] = _deploy_step


def step_lines(cell: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of every step, continuation lines joined, comments dropped."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(cell.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending.strip()))
    return out


def build_pipeline(args: PipelineArgs, cell: str, cwd: Any = None) -> client.Pipeline:
    p = client.Pipeline(
        args.name, allow_overlap=args.allow_overlap, description=args.description, backend=args.backend, cwd=cwd
    )
    for number, text in step_lines(cell):
        head, sep, rest = text.partition(":")
        words = head.split()
        if not sep or not words or len(words) > 2 or words[0] not in STEP_KINDS:
            raise ValidationError(
                f"%%pai_pipeline line {number}: {text[:60]!r} is not a step",
                f"write KIND[ NAME]: OPTIONS, KIND one of {', '.join(STEP_KINDS)}",
            )
        kind, name = words[0], words[-1]
        prog = f"%%pai_pipeline line {number} ({kind})"
        try:
            opts = parse_line(_COMMANDS[kind], rest, prog)
        except ValidationError as exc:
            if exc.hint and exc.hint.startswith("see "):
                mine = "%%pai_train's" if kind != "deploy" else "%pai_deploy's"
                raise ValidationError(
                    exc.message, f"a {kind} step takes {mine} options; see {mine[:-2]} --help"
                ) from None
            raise
        if isinstance(opts, HelpShown):
            raise ValidationError(f"{prog}: --help is not a step option", "run %%pai_pipeline --help")
        if kind == "deploy":
            _add_deploy(p, name, opts)
        else:
            _add_job(p, kind, name, opts, prog)
    for schedule in args.schedules:
        p.schedule(schedule)
    for prefix in args.prefixes:
        p.on_new_objects(prefix, debounce=args.debounce)
    return p


def _add_job(p: client.Pipeline, kind: str, name: str, opts: dict[str, Any], prog: str) -> None:
    script = opts.pop("script")
    after = tuple(opts.pop("after", ()) or ())
    inputs = {}
    for item in opts.pop("inputs", ()) or ():
        channel, sep, ref = item.partition("=")
        if not sep or not channel or not ref:
            raise ValidationError(f"{prog}: --input {item!r} is not CHANNEL=STEP.ARTEFACT")
        inputs[channel] = ref
    step: dict[str, Any] = {}
    if kind == "eval":
        inputs.setdefault("model", opts.pop("model"))
        step = {"gate": opts.pop("gate"), "service": opts.pop("service"), "metrics_file": opts.pop("metrics_file")}
    for ignored in ("backend", "include", "simulate_preemption_after"):
        opts.pop(ignored, None)
    job = spec_from_options(f"{p.name}-{name}", **opts)
    p.add_job_step(kind, name, script, job, inputs, after, **step)


def _add_deploy(p: client.Pipeline, name: str, opts: dict[str, Any]) -> None:
    request = opts["request"]
    options = {k: v for k, v in request.options.items() if v is not None}
    p.deploy(
        opts["service"],
        model=request.model,
        processor=request.processor,
        name=name,
        after=opts["after"] or None,
        plan=request.plan,
        new_api_version=request.new_api_version,
        **options,
    )


@click.command("%pai_pipelines", help="List pipelines, or show / run / pause / resume / delete one.")
@click.argument("name", required=False)
@click.argument("action", type=click.Choice(("show", "runs", "run", "pause", "resume", "delete")), default="show")
@click.option("--wait", is_flag=True, help="With run: block until the run ends.")
@backend_option
def _pipelines_parser(**kw: Any) -> dict[str, Any]:
    return kw


@magics_class
class PipelineMagics(MagicHelpers, Magics):
    @cell_magic
    @guard
    def pai_pipeline(self, line: str, cell: str) -> None:
        """Define and register a pipeline. See ``%%pai_pipeline --help``."""
        from ..options.common import join_continuation

        line, cell = join_continuation(line, cell)
        args = self._parse(_pipeline_parser, line, "%%pai_pipeline")
        if args is None:
            return
        if not step_lines(cell):
            raise UsageError(
                "%%pai_pipeline: the cell has no steps; write one per line, e.g. train: --script t.py"
            )
        p = build_pipeline(args, cell)
        registered = p.register()
        self.shell.user_ns[args.as_name] = p
        print(
            f"Registered pipeline {p.name} ({' -> '.join(n['name'] for n in registered['dag']['nodes'])}); "
            f"available as `{args.as_name}`."
        )
        for warning in registered["spec"].get("provenance", {}).get("warnings", []):
            print(f"warning: {warning}")
        if args.run:
            run = p.run()
            print(f"Started run #{run.data['number']} ({run.id}).")
            if args.wait:
                print(run_details(run.wait().data))

    @line_magic
    @guard
    def pai_pipelines(self, line: str) -> None:
        """See ``%pai_pipelines --help``."""
        args = self._parse(_pipelines_parser, line, "%pai_pipelines")
        if args is None:
            return
        name, action, backend = args["name"], args["action"], args["backend"]
        if name is None:
            print(pipelines_table(client.pipelines(backend=backend)))
            return
        if action == "show":
            data = client.get_pipeline(name, backend=backend)
            print(pipeline_details(data["pipeline"], data["runs"]))
        elif action == "runs":
            print(runs_table(client.pipeline_runs(name, backend=backend)))
        elif action == "run":
            run = client.run_pipeline(name, backend=backend)
            print(f"Started run #{run.data['number']} of {name} ({run.id}).")
            if args["wait"]:
                print(run_details(run.wait().data))
        elif action in ("pause", "resume"):
            getattr(client, f"{action}_pipeline")(name, backend=backend)
            print(f"{name}: {'paused' if action == 'pause' else 'active'}.")
        else:
            client.delete_pipeline(name, backend=backend)
            print(f"Deleted pipeline {name}.")


__all__ = ["PipelineMagics", "build_pipeline", "step_lines"]
