"""``%pai_lineage`` and ``%pai_reproduce``: thin like the other magics (parse, call, render)."""

from __future__ import annotations

import sys
from typing import Any

import click
from IPython.core.magic import Magics, line_magic, magics_class

from ..options.common import DURATION, backend_option
from .common import MagicHelpers, guard


@click.command("%pai_lineage", help="Walk a service version (or a job) back to its code, environment and data.")
@click.argument("target", metavar="SERVICE[@vN]|JOB")
@click.option("--json", "as_json", is_flag=True, help="Return the lineage as a dict instead of printing it.")
@backend_option
def _lineage_parser(**kw: Any) -> dict[str, Any]:
    return kw


@click.command("%pai_reproduce", help="Rerun a job from its commit, spec and data; compare the artefacts.")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for the rerun and compare its artefacts with the original's.")
@click.option("--compare", "compare_with", default=None, metavar="RERUN_JOB", help="Only compare with a rerun.")
@click.option("--timeout", type=DURATION, default=None, help="With --wait: give up after this long.")
@click.option("--as", "as_name", default="_pai_reproduction", show_default=True, help="Variable for the result.")
@backend_option
def _reproduce_parser(**kw: Any) -> dict[str, Any]:
    if not kw["as_name"].isidentifier():
        raise click.BadParameter(f"{kw['as_name']!r} is not a Python variable name", param_hint="--as")
    return kw


@magics_class
class LineageMagics(MagicHelpers, Magics):
    @line_magic
    @guard
    def pai_lineage(self, line: str) -> Any:
        """Lineage of ``SERVICE[@vN]`` or a job. See ``%pai_lineage --help``."""
        args = self._parse(_lineage_parser, line, "%pai_lineage")
        if args is None:
            return None
        from ...api.common import resolve_backend
        from ...api.lineage import lineage, render_lineage

        data = lineage(args["target"], resolve_backend(args["backend"]))
        if args["as_json"]:
            return data
        print(render_lineage(data))
        return None

    @line_magic
    @guard
    def pai_reproduce(self, line: str) -> None:
        """Rerun a job and compare. See ``%pai_reproduce --help``."""
        args = self._parse(_reproduce_parser, line, "%pai_reproduce")
        if args is None:
            return
        from ...api.reproduce import compare_jobs, reproduce, wait_for_rerun

        rerun_id = args["compare_with"]
        if rerun_id is None:
            job, source = reproduce(args["job_id"], backend=args["backend"])
            for warning in job.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            print(f"Submitted {job.id} on {job.record.backend}: a rerun of {args['job_id']} from {source}.")
            self.shell.user_ns[args["as_name"]] = job
            if not args["wait"]:
                print(f"Compare once it ends: %pai_reproduce {args['job_id']} --compare {job.id}")
                return
            wait_for_rerun(args["job_id"], job, args["timeout"])
            rerun_id = job.id
        result = compare_jobs(args["job_id"], rerun_id, backend=args["backend"])
        self.shell.user_ns[args["as_name"]] = result
        print(result.text())


__all__ = ["LineageMagics"]
