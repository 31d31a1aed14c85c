"""``jupyter pai doctor [--json]``: the account checks of ``api.doctor`` as a command."""

from __future__ import annotations

import sys

import click

from ...api.doctor import FAIL, as_json, render_table, run_checks


@click.command("doctor")
@click.option("--json", "json_out", is_flag=True, help="Print machine-readable JSON.")
def doctor_command(json_out: bool) -> None:
    """Check credentials, region, workspace, bucket, DLC/EAS permissions and endpoints."""
    checks = run_checks()
    click.echo(as_json(checks) if json_out else render_table(checks))
    if any(c.status == FAIL for c in checks):
        sys.exit(1)  # a failed check fails the command (scripts and CI can test it)


def register(cli: click.Group) -> None:
    cli.add_command(doctor_command)
