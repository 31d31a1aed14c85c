"""``jupyter pai experiments list|show``: runs grouped by --experiment, compared in a table."""

from __future__ import annotations

import click

from ...api import experiments as client
from ..options.common import backend_option, emit, json_option
from ..options.experiments import compare_options
from ..render.experiments import comparison_text, experiments_table


@click.group()
def experiments() -> None:
    """Compare runs grouped by --experiment (default: the notebook's name)."""


@experiments.command("list")
@backend_option
@json_option
def experiments_list(backend: str | None, as_json: bool) -> None:
    """Experiments, most recently used first, with their number of runs."""
    items = client.experiments(backend=backend)
    emit({"experiments": items}, as_json, experiments_table(items))


@experiments.command("show")
@click.argument("name")
@compare_options
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True, help="Runs to load at most.")
@backend_option
@json_option
def experiments_show(
    name: str,
    metric: str | None,
    sort: str | None,
    maximize: bool | None,
    descending: bool | None,
    limit: int,
    backend: str | None,
    as_json: bool,
) -> None:
    """The runs of experiment NAME: hyperparameters, final metrics, commit, duration; best run marked."""
    comparison = client.experiment(
        name, metric=metric, sort=sort, maximize=maximize, descending=descending, limit=limit, backend=backend
    )
    emit(comparison.to_json(), as_json, comparison_text(comparison))


def register(cli: click.Group) -> None:
    cli.add_command(experiments)
