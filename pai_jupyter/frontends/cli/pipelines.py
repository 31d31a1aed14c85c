"""``jupyter pai pipelines list|show|runs|run|pause|resume|delete``: pipelines from a terminal.

Thin: the client API (``api.pipelines``) does the work; every command prints text or, with
``--json``, the JSON shapes of the REST API.
"""

from __future__ import annotations

import sys

import click

from ...api import pipelines as client
from ..options.common import backend_option, emit, json_option
from ..render.pipelines import pipeline_details, pipelines_table, run_details, runs_table


@click.group("pipelines")
def pipelines_group() -> None:
    """Pipelines defined in notebooks (Pipeline(...).register() or %%pai_pipeline): runs, triggers."""


@pipelines_group.command("list")
@backend_option
@json_option
def pipelines_list(backend: str | None, as_json: bool) -> None:
    """List pipelines with their triggers, last and next run."""
    found = client.pipelines(backend=backend)
    emit(found, as_json, pipelines_table(found))


@pipelines_group.command("show")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Runs shown.")
@backend_option
@json_option
def pipelines_show(name: str, limit: int, backend: str | None, as_json: bool) -> None:
    """Show pipeline NAME: its steps, triggers, provenance and recent runs."""
    data = client.get_pipeline(name, backend=backend, limit=limit)
    emit(data, as_json, pipeline_details(data["pipeline"], data["runs"]))


@pipelines_group.command("runs")
@click.argument("name")
@click.option("--run", "run_id", default=None, help="Show this run in full (steps, gate figures).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@backend_option
@json_option
def pipelines_runs(name: str, run_id: str | None, limit: int, backend: str | None, as_json: bool) -> None:
    """The runs of NAME, newest first (or one run in full with --run)."""
    if run_id:
        run = client.get_run(run_id, backend=backend).data
        emit(run, as_json, run_details(run))
        return
    runs = client.pipeline_runs(name, backend=backend, limit=limit)
    emit(runs, as_json, runs_table(runs))


@pipelines_group.command("run")
@click.argument("name")
@click.option("--wait", is_flag=True, help="Wait for the run to end; exit 1 unless it succeeded.")
@backend_option
@json_option
def pipelines_run(name: str, wait: bool, backend: str | None, as_json: bool) -> None:
    """Start a run of NAME now (it queues behind a running one unless overlap is allowed)."""
    run = client.run_pipeline(name, backend=backend)
    if not as_json:
        click.echo(f"Started run #{run.data['number']} of {name} ({run.id}).")
    if wait:
        run.wait()
        emit(run.data, as_json, run_details(run.data))
        if run.state != "succeeded":
            sys.exit(1)
        return
    emit(run.data, as_json)


@pipelines_group.command("pause")
@click.argument("name")
@backend_option
@json_option
def pipelines_pause(name: str, backend: str | None, as_json: bool) -> None:
    """Stop NAME's schedule and prefix triggers firing (manual runs still work)."""
    data = client.pause_pipeline(name, backend=backend)
    emit(data, as_json, f"{name}: paused.")


@pipelines_group.command("resume")
@click.argument("name")
@backend_option
@json_option
def pipelines_resume(name: str, backend: str | None, as_json: bool) -> None:
    """Let NAME's triggers fire again, counting from now."""
    data = client.resume_pipeline(name, backend=backend)
    emit(data, as_json, f"{name}: active.")


@pipelines_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@backend_option
def pipelines_delete(name: str, yes: bool, backend: str | None) -> None:
    """Stop NAME's runs and forget it (its jobs and services stay)."""
    if not yes:
        click.confirm(f"Delete pipeline {name} and its run history?", abort=True)
    client.delete_pipeline(name, backend=backend)
    click.echo(f"Deleted pipeline {name}.")


def register(cli: click.Group) -> None:
    cli.add_command(pipelines_group)
