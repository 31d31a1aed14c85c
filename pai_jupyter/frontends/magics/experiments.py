"""``%pai_compare JOB JOB ...`` and ``%pai_experiment NAME``: runs side by side in the notebook.

An HTML table (hyperparameters, final metrics, commit, duration; the best run starred) and the
chosen metric of every run overlaid on one chart with axes; a terminal IPython gets the text table.
"""

from __future__ import annotations

from typing import Any

import click
from IPython.core.magic import Magics, line_magic, magics_class

from ...api import experiments as client
from ..options.common import backend_option
from ..options.experiments import compare_options
from ..render.experiments import comparison_html, comparison_text
from .common import MagicHelpers, guard, help_doc


@click.command("%pai_compare", help="Compare jobs: a table of their runs and their metric overlaid on one chart.")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB [JOB ...]")
@compare_options
@backend_option
def _compare_parser(**kw: Any) -> dict[str, Any]:
    return kw


@click.command("%pai_experiment", help="Compare the runs of one experiment (see --experiment on %%pai_train).")
@click.argument("name")
@compare_options
@backend_option
def _experiment_parser(**kw: Any) -> dict[str, Any]:
    return kw


@magics_class
class ExperimentMagics(MagicHelpers, Magics):
    @line_magic
    @guard
    def pai_compare(self, line: str) -> client.Comparison | None:
        args = self._parse(_compare_parser, line, "%pai_compare")
        if args is None:
            return None
        self._show(client.compare(list(args.pop("job_ids")), **args))
        return None

    @line_magic
    @guard
    def pai_experiment(self, line: str) -> None:
        args = self._parse(_experiment_parser, line, "%pai_experiment")
        if args is None:
            return
        self._show(client.experiment(args.pop("name"), series=True, **args))

    def _show(self, comparison: client.Comparison) -> None:
        from IPython.display import display

        display({"text/plain": comparison_text(comparison), "text/html": comparison_html(comparison)}, raw=True)


ExperimentMagics.pai_compare.__doc__ = help_doc(_compare_parser, "%pai_compare")
ExperimentMagics.pai_experiment.__doc__ = help_doc(_experiment_parser, "%pai_experiment")
