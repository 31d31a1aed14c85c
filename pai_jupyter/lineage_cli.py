"""``jupyter pai lineage``, ``jupyter pai reproduce`` and ``jupyter pai jobs prune-refs``.

Thin like ``cli.py``: parse, call ``lineage`` / ``reproduce`` / ``provenance.refs``, print.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .options import DURATION, emit, json_option


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
    from .provenance.refs import prune_refs

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


def register(cli: click.Group) -> None:
    jobs = cli.commands.get("jobs")
    if isinstance(jobs, click.Group):
        jobs.add_command(prune_refs_command)
