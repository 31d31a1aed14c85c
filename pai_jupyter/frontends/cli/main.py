"""``jupyter pai``: the same operations as the magics, from a terminal.

Thin: parse (options shared with the magics in ``options.py``), call the client
API, print (text, or JSON with ``--json``). A ``PaiError`` prints one line and
its hint on stderr and exits with code 2.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..._version import __version__
from ...api import jobs as client
from ...api.experiments import experiment_name
from ...config import current_config
from ...decisions.checkpoint_policy import check_checkpoint_policy
from ...errors import PaiError, ValidationError
from ...i18n import _
from ...records import JOB_STATES, JobQuery
from ..options.common import backend_option, emit, json_option
from ..options.jobs import push_ref_option, spec_from_options, train_options
from ..render.common import table, transfer_progress
from ..render.jobs import MetricSummary, job_details, job_line, jobs_table, page_line, sparkline
from .config import register as register_config
from .doctor import register as register_doctor
from .experiments import register as register_experiments
from .lineage import register as register_lineage
from .pipelines import register as register_pipelines
from .services import register as register_services

log = logging.getLogger("pai_jupyter.frontends.cli.main")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pai-jupyter")
def cli() -> None:
    """pai-jupyter: train, keep and serve models on PAI or on the local backend."""


# -- server -------------------------------------------------------------------
@cli.group(invoke_without_command=True)
@click.option("--ip", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: a free one).")
@click.pass_context
def server(ctx: click.Context, ip: str | None, port: int | None) -> None:
    """Run the local control plane in the foreground (stop: Ctrl-C or `jupyter pai server stop`)."""
    if ctx.invoked_subcommand is None:
        from ...controlplane.server import serve

        serve(current_config(), ip=ip, port=port)


@server.command("stop")
def server_stop() -> None:
    """Stop the control plane of this state folder (running jobs keep running and are reattached)."""
    from ...controlplane.server import running_server

    config = current_config()
    info = running_server(config.home_path)
    if not info:
        click.echo(f"No control plane is running for {config.home_path}.")
        return
    import requests

    requests.post(f"{info['url']}/api/v1/shutdown", headers={"Authorization": f"token {info['token']}"}, timeout=5)
    for _attempt in range(100):
        if not running_server(config.home_path):
            click.echo(f"Stopped the control plane at {info['url']} (pid {info['pid']}).")
            return
        time.sleep(0.1)
    raise PaiError(f"the control plane (pid {info['pid']}) did not stop within 10s", f"kill {info['pid']}")


@server.command("restore")
@click.argument("backup", required=False)
def server_restore(backup: str | None) -> None:
    """Put a backup of state.sqlite back (default: the newest whole one); the control plane must be stopped."""
    from ...controlplane.backup import restore
    from ...controlplane.server import running_server

    config = current_config()
    info = running_server(config.home_path)
    if info:
        raise PaiError(
            f"a control plane runs on {config.home_path} (pid {info['pid']})",
            "stop it first with `jupyter pai server stop`",
        )
    used, kept = restore(config.home_path / "state.sqlite", backup)
    click.echo(f"Restored {config.home_path / 'state.sqlite'} from {used}.")
    if kept is not None:
        click.echo(f"The replaced file is kept as {kept}.")


@server.command("status")
@json_option
def server_status(as_json: bool) -> None:
    """Show whether a control plane runs, where, and with which state folder."""
    from ...controlplane.server import running_server

    config = current_config()
    info = running_server(config.home_path)
    data = {"running": bool(info), "home": str(config.home_path)}
    if info:
        data.update({k: info[k] for k in ("url", "pid")})
    text = f"running at {info['url']} (pid {info['pid']})" if info else "not running"
    emit(data, as_json, f"Control plane for {config.home_path}: {text}")


# -- train ----------------------------------------------------------------------
@cli.command()
@click.argument("script", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Job name (default: the script's name).")
@train_options
@push_ref_option
@click.option("--wait", is_flag=True, help="Wait for the job to end; exit 1 if it fails.")
@json_option
def train(
    script: Path,
    name: str | None,
    wait: bool,
    as_json: bool,
    backend: str | None,
    simulate_preemption_after: float | None,
    push_ref: bool | None,
    **opts: Any,
) -> None:
    """Submit SCRIPT as a training job (same options as %%pai_train)."""
    if not script.is_file():
        raise PaiError(f"script {script} does not exist")
    include = tuple(opts.pop("include", ()) or ())
    spec = spec_from_options(name or _job_name(script), entry=script.name, **opts)
    if spec.experiment is None:  # the notebook's when run from one (`!jupyter pai train`), else the script's
        spec = spec.with_changes(experiment=experiment_name(os.environ.get("JPY_SESSION_NAME") or script.stem))
    for note in check_checkpoint_policy(spec):  # the same notes %%pai_train prints
        click.echo(str(note), err=as_json or note.level == "warning")
    job = client.submit_file(
        script,
        spec,
        backend=backend,
        simulate_preemption_after=simulate_preemption_after,
        include=include,
        push_ref=push_ref,
    )
    for warning in job.warnings:
        click.echo(_("warning: {warning}").format(warning=warning), err=True)
    if not as_json:
        click.echo(
            _("Submitted {id} ({name}) on {backend}.").format(id=job.id, name=job.name, backend=job.record.backend)
        )
        if job.code:
            click.echo(f"Code: {job.code['commit'][:12]} on {job.code['ref']} (git log {job.code['ref']})")
    if wait:
        job.wait(
            raise_on_failure=False,
            on_update=None if as_json else (lambda r: click.echo(f"[{time.strftime('%H:%M:%S')}] {job_line(r)}")),
        )
    emit(client.public_record(job.record), as_json)
    if wait and job.record.state != "Succeeded":
        sys.exit(1)


def parse_when(text: str | None, flag: str) -> float | None:
    """``2026-11-30``, ``2026-11-30T14:00`` (local time) or epoch seconds, as epoch seconds."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValidationError(
            f"{flag} {text!r} is not a date", f"e.g. {flag} 2026-11-30 or {flag} 2026-11-30T14:00"
        ) from None


def _job_name(script: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "-", script.stem)[:256] or "job"


# -- jobs -------------------------------------------------------------------------
@cli.group()
def jobs() -> None:
    """List and manage training jobs."""


@jobs.command("list")
@click.option(
    "--search", "-s", "search", default=None, help="Only jobs whose name or id contains this (any case)."
)
@click.option("--name", default=None, hidden=True, help="Same as --search.")
@click.option("--state", type=click.Choice(JOB_STATES), default=None, help="Only jobs in this state.")
@click.option("--framework", default=None, help="Only jobs of this framework (pytorch, xgboost, ...).")
@click.option("--experiment", default=None, help="Only jobs of this experiment.")
@click.option("--since", default=None, help="Only jobs created at or after this (YYYY-MM-DD[THH:MM], or epoch s).")
@click.option("--until", default=None, help="Only jobs created before this (same forms as --since).")
@click.option("--limit", type=click.IntRange(min=1, max=500), default=50, show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=None, help="Page N of --limit jobs (1 = newest).")
@click.option("--before", default=None, help="The page after the one that printed this cursor.")
@backend_option
@json_option
def jobs_list(
    search: str | None,
    name: str | None,
    state: str | None,
    framework: str | None,
    experiment: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    page: int | None,
    before: str | None,
    backend: str | None,
    as_json: bool,
) -> None:
    """List jobs, newest first, searched over the whole history by the backend."""
    query = JobQuery(
        limit=limit,
        cursor=before,
        page=page,
        q=search or name,
        state=state,
        framework=framework,
        experiment=experiment,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until"),
    )
    found = client.job_page(query, backend=backend)
    if as_json:
        emit(
            {"jobs": [client.public_record(r) for r in found.jobs], "total": found.total, "next": found.next}, True
        )
        return
    click.echo(jobs_table(found.jobs))
    if found.jobs:
        click.echo(page_line(len(found.jobs), found.total, found.next, page))


@jobs.command("show")
@click.argument("job_id")
@backend_option
@json_option
def jobs_show(job_id: str, backend: str | None, as_json: bool) -> None:
    """Show a job: spec, outputs, provenance summary, progress."""
    job = client.get_job(job_id, backend=backend)
    summary = MetricSummary()
    summary.add(job.metric_range(points=200).points)  # every series' last point is among them
    events = job.events()
    data = {
        "job": client.public_record(job.record),
        "events": [asdict(e) for e in events],
        "provenance": job.provenance,
        "environment": job.environment(),
    }
    emit(data, as_json, job_details(job.record, summary, job.provenance, events, data["environment"]))


@jobs.command("logs")
@click.argument("job_id")
@click.option("--worker", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines.")
@backend_option
@json_option
def jobs_logs(
    job_id: str, worker: int, follow: bool, tail: int | None, backend: str | None, as_json: bool
) -> None:
    """Print a worker's log."""
    job = client.get_job(job_id, backend=backend)
    if follow and not as_json:
        for text in job.backend.follow_logs(job_id, worker=worker):
            click.echo(text, nl=False)
        return
    text = job.logs(worker=worker, tail=tail)
    emit({"job_id": job_id, "worker": worker, "text": text}, as_json, text.rstrip("\n"))


@jobs.command("stop")
@click.argument("job_id")
@backend_option
@json_option
def jobs_stop(job_id: str, backend: str | None, as_json: bool) -> None:
    """Stop a job (SIGTERM, then SIGKILL after a grace period)."""
    job = client.get_job(job_id, backend=backend).stop()
    emit(client.public_record(job.record), as_json, job_line(job.record))


@jobs.command("preempt")
@click.argument("job_id")
@backend_option
@json_option
def jobs_preempt(job_id: str, backend: str | None, as_json: bool) -> None:
    """Reclaim a job's workers as a spot reclaim would; it resumes from its last checkpoint."""
    job = client.get_job(job_id, backend=backend).preempt()
    emit(client.public_record(job.record), as_json, f"Preempted {job.id}; it restarts from its last checkpoint.")


@jobs.command("metrics")
@click.argument("job_id")
@click.option("--name", "names", multiple=True, help="Only these metrics.")
@click.option(
    "--points", type=click.IntRange(min=4), default=1000, show_default=True, help="Point budget per series."
)
@click.option("--start", type=float, default=None, help="From this step (epoch seconds for system metrics).")
@click.option("--end", type=float, default=None, help="Up to this step (epoch seconds for system metrics).")
@click.option("--all", "every", is_flag=True, help="Every raw point, streamed (with --json: a JSON array).")
@backend_option
@json_option
def jobs_metrics(
    job_id: str,
    names: tuple[str, ...],
    points: int,
    start: float | None,
    end: float | None,
    every: bool,
    backend: str | None,
    as_json: bool,
) -> None:
    """Show a job's metrics: exact first/last/min/max/count and a trend per metric; --json gives
    each series at --points points that keep its shape (first/min/max/last per bucket)."""
    job = client.get_job(job_id, backend=backend)
    if every:
        _stream_metrics(job, list(names) or None, as_json)
        return
    found = job.metric_range(list(names) or None, start=start, end=end, points=points)
    if as_json:
        emit(found.to_dict(), True)
        return
    if not found.summary:
        click.echo(f"No metrics for {job_id} yet. Scripts report with pai_jupyter.report(step=..., loss=...).")
        return
    rows = []
    for name, s in sorted(found.summary.items()):
        values = [p.value for p in found.points if p.name == name and p.worker == s["worker"]]
        steps = f"{s['first_step']}-{s['last_step']}" if s["first_step"] is not None else "-"
        rows.append(
            (
                name,
                f"{s['count']:,}",
                steps,
                f"{s['first']:.4g}",
                f"{s['last']:.4g}",
                f"{s['min']:.4g}",
                f"{s['max']:.4g}",
                sparkline(values, 24),
            )
        )
    click.echo(table(rows, ["METRIC", "POINTS", "STEPS", "FIRST", "LAST", "MIN", "MAX", "TREND"]))


def _stream_metrics(job: client.Job, names: list[str] | None, as_json: bool) -> None:
    """Every raw point as it arrives page by page: a JSON array, or one line per point."""
    import json

    first = True
    if as_json:
        click.echo("[", nl=False)
    for p in job.iter_metrics(names=names):
        if as_json:
            click.echo(("" if first else ",\n") + json.dumps(asdict(p)), nl=False)
        else:
            step = "-" if p.step is None else p.step
            click.echo(f"{p.name}\t{p.worker}\t{step}\t{p.ts:.3f}\t{p.value:.6g}")
        first = False
    if as_json:
        click.echo("]")


@jobs.command("events")
@click.argument("job_id")
@backend_option
@json_option
def jobs_events(job_id: str, backend: str | None, as_json: bool) -> None:
    """Show a job's history: states, attempts, warnings and advice."""
    events = client.get_job(job_id, backend=backend).events()
    rows = [(time.strftime("%H:%M:%S", time.localtime(e.ts)), e.kind, e.message) for e in events]
    emit([asdict(e) for e in events], as_json, table(rows, ["TIME", "KIND", "MESSAGE"]))


@jobs.command("tensorboard")
@click.argument("job_id")
@backend_option
@json_option
def jobs_tensorboard(job_id: str, backend: str | None, as_json: bool) -> None:
    """How to open a job's TensorBoard logs (what it wrote to PAI_OUTPUT_TENSORBOARD)."""
    from ...api.tensorboard import tensorboard_text

    info = client.get_job(job_id, backend=backend).tensorboard()
    emit({"job_id": job_id, "tensorboard": info}, as_json, tensorboard_text(info, job_id))


# -- storage ---------------------------------------------------------------------
@cli.group()
def storage() -> None:
    """Look at and copy to/from oss:// storage."""


@storage.command("ls")
@click.argument("uri")
@click.option("--recursive", "-r", is_flag=True)
@backend_option
@json_option
def storage_ls(uri: str, recursive: bool, backend: str | None, as_json: bool) -> None:
    """List objects under an oss:// URI."""
    from ...storage.uri import OssUri

    items = client.resolve_backend(backend).storage.list(OssUri.parse(uri), recursive=recursive)
    rows = [(i.uri, "-" if i.is_dir else i.size) for i in items]
    emit([asdict(i) for i in items], as_json, table(rows, ["URI", "BYTES"]) if rows else f"Nothing under {uri}.")


@storage.command("cp")
@click.argument("source")
@click.argument("dest")
@backend_option
def storage_cp(source: str, dest: str, backend: str | None) -> None:
    """Copy a local file/folder to oss://, or oss:// to a local path."""
    progress = transfer_progress(lambda text, _finished: click.echo(text, nl=False, err=True))
    if source.startswith("oss://") and not dest.startswith("oss://"):
        path = client.download(source, dest, backend=backend, progress=progress)
        click.echo(f"\nDownloaded {source} to {path}")
    elif dest.startswith("oss://") and not source.startswith("oss://"):
        uri = client.upload(source, dest, backend=backend, progress=progress)
        click.echo(f"\nUploaded {source} to {uri}")
    else:
        raise PaiError("cp copies between a local path and an oss:// URI", "one side must start with oss://")


register_services(cli)
register_config(cli)
register_doctor(cli)
register_lineage(cli)
register_experiments(cli)
register_pipelines(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jupyter-pai``: PaiErrors become one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="jupyter pai", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("Aborted."), err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except PaiError as exc:
        click.echo(_("Error: {message}").format(message=exc.message), err=True)
        if exc.hint:
            click.echo(_("  hint: {hint}").format(hint=exc.hint), err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
