"""IPython magics: parse, call the client API, render. No business logic here.

``%%pai_train`` submits the cell as a training job; ``%pai_jobs`` and
``%pai_job`` look at jobs. Bad input raises ``UsageError``: IPython prints one
line, no traceback. Works in any IPython (kernel or terminal); without a
widget-capable kernel it prints text.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import click
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ...api import jobs as client
from ...api.experiments import default_experiment
from ...config import PaiConfig, set_current_config
from ...decisions.checkpoint_policy import check_checkpoint_policy
from ...i18n import _
from ...records import JobRecord
from ...specs.job import JobSpec
from ..options.common import backend_option, join_continuation
from ..options.jobs import push_ref_option, spec_from_options, train_options
from ..render.jobs import MetricSummary, job_details, job_line, jobs_table, page_line
from .common import MagicHelpers, guard, help_doc


@dataclass
class TrainArgs:
    spec: JobSpec
    as_name: str
    wait: bool
    widget: bool
    backend: str | None
    simulate_preemption_after: float | None
    include: tuple[str, ...] = ()
    push_ref: bool | None = None


@click.command("%%pai_train", help="Submit this cell as a training job.")
@click.option("--name", default="notebook-job", show_default=True, help="Job name (DLC DisplayName).")
@train_options
@push_ref_option
@click.option("--as", "as_name", default="_pai_job", show_default=True, help="Variable that receives the Job.")
@click.option("--wait", is_flag=True, help="Block until the job ends; fail the cell if the job fails.")
@click.option("--no-widget", is_flag=True, help="Print text instead of showing a live widget.")
def _train_parser(
    name: str,
    as_name: str,
    wait: bool,
    no_widget: bool,
    backend: str | None,
    simulate_preemption_after: float | None,
    push_ref: bool | None,
    **opts: Any,
) -> TrainArgs:
    if not as_name.isidentifier():
        raise click.BadParameter(f"{as_name!r} is not a Python variable name", param_hint="--as")
    include = tuple(opts.pop("include", ()) or ())
    return TrainArgs(
        spec_from_options(name, **opts),
        as_name,
        wait,
        not no_widget,
        backend,
        simulate_preemption_after,
        include,
        push_ref,
    )


@click.command("%pai_jobs", help="List training jobs, newest first.")
@click.option("--state", default=None, help="Only jobs in this state, e.g. Running.")
@click.option("--name", "--search", "name", default=None, help="Only jobs whose name or id contains this.")
@click.option("--limit", type=click.IntRange(min=1, max=500), default=20, show_default=True)
@click.option("--before", default=None, help="The page after the one that printed this cursor.")
@backend_option
def _jobs_parser(**kw: Any) -> dict[str, Any]:
    return kw


@click.command("%pai_job", help="Show one job (and its logs with --logs).")
@click.argument("job_id")
@click.option("--logs", is_flag=True, help="Print the worker's log.")
@click.option("--worker", type=click.IntRange(min=0), default=0, show_default=True)
@backend_option
def _job_parser(**kw: Any) -> dict[str, Any]:
    return kw


@magics_class
class PaiMagics(MagicHelpers, Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.config_obj = PaiConfig(parent=shell)
        shell.configurables.append(self.config_obj)
        set_current_config(self.config_obj)

    @cell_magic
    @guard
    def pai_train(self, line: str, cell: str) -> Any:
        """Submit the cell as a training job. See ``%%pai_train --help``."""
        line, cell = join_continuation(line, cell)
        args = self._parse(_train_parser, line, "%%pai_train")
        if args is None:
            return None
        if not cell.strip():
            raise UsageError(_("%%pai_train: the cell is empty; put the training code below the magic line"))
        if args.spec.experiment is None:
            args.spec = args.spec.with_changes(experiment=default_experiment(self.shell.user_ns))
        self._print_policy(args.spec)
        job = client.submit(
            cell,
            args.spec,
            cwd=os.getcwd(),
            backend=args.backend,
            simulate_preemption_after=args.simulate_preemption_after,
            include=args.include,
            push_ref=args.push_ref,
        )
        self.shell.user_ns[args.as_name] = job
        for warning in job.warnings:
            print(_("warning: {warning}").format(warning=warning), file=sys.stderr)
        if args.widget and self._widgets:
            from ..widgets.jobs import JobWidget

            # Re-running the cell replaces its widget: the older one stops polling.
            JobWidget(job, cell=self._cell_id() or f"var:{args.as_name}").show()
            if args.wait:
                job.wait(poll=1.0)
            return None
        print(
            _("Submitted {id} ({name}) on {backend}: {workers} worker(s); available as `{var}`.").format(
                id=job.id, name=job.name, backend=job.record.backend, workers=job.spec.workers, var=args.as_name
            )
        )
        if job.code:
            print(f"Code: {job.code['commit'][:12]} on {job.code['ref']} (git log {job.code['ref']}).")
        if args.wait:
            self._wait_text(job)
        else:
            print(
                _("Follow it with `{var}.wait()` or `jupyter pai jobs logs {id} --follow`.").format(
                    var=args.as_name, id=job.id
                )
            )
        return None

    def _cell_id(self) -> str | None:
        """The notebook cell being run: JupyterLab and Notebook 7 send its id as ``cellId`` in the
        execute request's metadata; None in a terminal or a frontend that does not."""
        kernel = getattr(self.shell, "kernel", None)
        get_parent = getattr(kernel, "get_parent", None)
        parent = get_parent() if callable(get_parent) else getattr(kernel, "_parent_header", None)
        metadata = (parent or {}).get("metadata") or {}
        cell = metadata.get("cellId")
        return str(cell) if cell else None

    def _print_policy(self, spec: JobSpec) -> None:
        for note in check_checkpoint_policy(spec):
            print(f"{note.level}: {note.message}", file=sys.stderr if note.level == "warning" else sys.stdout)

    def _wait_text(self, job: client.Job) -> None:
        """Text progress for frontends without widgets: state changes and a line every 10 s."""
        summary, since, last_print = MetricSummary(), None, 0.0

        def on_update(record: JobRecord) -> None:
            print(f"[{time.strftime('%H:%M:%S')}] {job_line(record, summary)}", flush=True)

        last_state = None
        while True:
            record = job.refresh()
            points = job.metric_range(points=200).points if since is None else job.metrics(since=since)
            if points:
                summary.add(points)
                since = summary.last_ts
            now = time.monotonic()
            if record.state != last_state or now - last_print > 10:
                on_update(record)
                last_state, last_print = record.state, now
            if record.is_terminal:
                break
            time.sleep(float(getattr(job.backend.training, "reconcile_interval", 1.0)))  # per-backend cadence
        job.wait(poll=0.2)

    @line_magic
    @guard
    def pai_jobs(self, line: str) -> None:
        """List jobs. See ``%pai_jobs --help``."""
        args = self._parse(_jobs_parser, line, "%pai_jobs")
        if args is None:
            return
        found = client.job_page(
            limit=args["limit"],
            cursor=args["before"],
            state=args["state"],
            q=args["name"],
            backend=args["backend"],
        )
        print(jobs_table(found.jobs))
        if found.jobs:
            print(page_line(len(found.jobs), found.total, found.next))

    @line_magic
    @guard
    def pai_job(self, line: str) -> client.Job | None:
        """Show one job. See ``%pai_job --help``."""
        args = self._parse(_job_parser, line, "%pai_job")
        if args is None:
            return None
        job = client.get_job(args["job_id"], backend=args["backend"])
        summary = MetricSummary()
        summary.add(job.metric_range(points=200).points)  # every series' last point is among them
        print(job_details(job.record, summary, job.provenance, job.events()))
        if args["logs"]:
            print(job.logs(worker=args["worker"]))
        return None


# ``%%pai_train?`` shows what ``%%pai_train --help`` prints.
PaiMagics.pai_train.__doc__ = help_doc(_train_parser, "%%pai_train")
PaiMagics.pai_jobs.__doc__ = help_doc(_jobs_parser, "%pai_jobs")
PaiMagics.pai_job.__doc__ = help_doc(_job_parser, "%pai_job")
