"""Options of the comparison views, shared by ``jupyter pai experiments show`` and ``%pai_compare``."""

from __future__ import annotations

import click

from .common import stack

compare_options = stack(
    click.option(
        "--metric",
        default=None,
        metavar="NAME",
        help="Metric that picks the best run and that the chart shows (default: loss, if reported).",
    ),
    click.option(
        "--sort",
        default=None,
        metavar="COLUMN",
        help="Sort by created, duration, name, state, commit, a metric or a hyperparameter.",
    ),
    click.option(
        "--maximize/--minimize",
        "maximize",
        default=None,
        help="Whether a higher --metric is better (default: by its name: accuracy/f1/auc/score up, loss/error down).",
    ),
    click.option(
        "--desc/--asc",
        "descending",
        default=None,
        help="Sort order (default: newest first; metrics best first; other columns ascending).",
    ),
)
