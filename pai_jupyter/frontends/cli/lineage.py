"""``jupyter pai lineage``, ``jupyter pai reproduce`` and ``jupyter pai jobs prune-refs``.

Thin like ``cli.py``: parse, call ``lineage`` / ``reproduce`` / ``provenance.refs``, print.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..options.common import DURATION, backend_option, emit, json_option


@click.command("prune-refs")
@click.option(
    "--older-than",
    "older_than",
    type=DURATION,
    required=True,
    help="Delete job refs written before this, e.g. 90d.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="A folder in the Git repository.",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted.")
@json_option
def prune_refs_command(older_than: float, repo: Path, dry_run: bool, as_json: bool) -> None:
    """Delete refs/pai/jobs/<id> refs older than --older-than (the commits go with the next git gc)."""
    from ...provenance.refs import prune_refs

    old = prune_refs(repo, older_than, dry_run=dry_run)
    age = _age(older_than)
    if not old:
        text = f"No job refs older than {age}."
    else:
        verb = "Would delete" if dry_run else "Deleted"
        lines = [f"{verb} {len(old)} job ref(s) older than {age}:"]
        lines += [
            f"  {r.ref} {r.commit[:12]} ({time.strftime('%Y-%m-%d', time.localtime(r.created_at))})" for r in old
        ]
        text = "\n".join(lines)
    emit([{"ref": r.ref, "commit": r.commit, "created_at": r.created_at} for r in old], as_json, text)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@click.command("lineage")
@click.argument("target", metavar="SERVICE[@vN]|JOB")
@backend_option
@json_option
def lineage_command(target: str, backend: str | None, as_json: bool) -> None:
    """Walk a service version (or a job) back to its model, job, commit, environment, data and rollout."""
    from ...api.common import resolve_backend
    from ...api.lineage import lineage, render_lineage

    data = lineage(target, resolve_backend(backend))
    emit(data, as_json, render_lineage(data))


@click.command("reproduce")
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True, help="Wait for the rerun, then compare its artefacts with the original's.")
@click.option(
    "--compare", "compare_with", default=None, metavar="RERUN_JOB", help="Only compare JOB with an ended rerun."
)
@click.option("--timeout", type=DURATION, default=None, help="With --wait: give up after this long, e.g. 2h.")
@backend_option
@json_option
def reproduce_command(
    job_id: str, wait: bool, compare_with: str | None, timeout: float | None, backend: str | None, as_json: bool
) -> None:
    """Rerun JOB from its commit, spec, hyperparameters and data on the same backend; compare artefacts.

    Exit code 1 when --wait/--compare finds a difference.
    """
    import sys

    from ...api.reproduce import compare_jobs, reproduce, wait_for_rerun

    if compare_with is None:
        job, source = reproduce(job_id, backend=backend)
        for warning in job.warnings:
            click.echo(f"warning: {warning}", err=True)
        if not as_json:
            click.echo(f"Submitted {job.id} on {job.record.backend}: a rerun of {job_id} from {source}.")
        if not wait:
            if not as_json:
                click.echo(f"Compare once it ends: jupyter pai reproduce {job_id} --compare {job.id}")
            emit({"rerun": job.record.to_dict()}, as_json)
            return
        wait_for_rerun(job_id, job, timeout)
        compare_with = job.id
    result = compare_jobs(job_id, compare_with, backend=backend)
    emit(result.to_dict(), as_json, result.text())
    if not result.identical:
        sys.exit(1)


def register(cli: click.Group) -> None:
    jobs = cli.commands.get("jobs")
    if isinstance(jobs, click.Group):
        jobs.add_command(prune_refs_command)
    cli.add_command(lineage_command)
    cli.add_command(reproduce_command)
