"""``jupyter pai deploy`` and ``jupyter pai services ...``: serving from a terminal.

Thin like ``cli.py``: the deploy options are the ones ``%pai_deploy`` uses
(``frontends.options.services``), the work is the client API's (``api.services``), and
every command prints text or, with ``--json``, the records as JSON.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from typing import Any

import click

from ...api import services as service_client
from ...records import ROLLOUT_ACTIONS
from ..options.common import backend_option, emit, json_option
from ..options.services import deploy_options, deploy_request
from ..render.common import transfer_progress
from ..render.services import (
    events_table,
    metrics_table,
    rollout_details,
    service_details,
    service_line,
    services_table,
    token_help,
)


def _progress(as_json: bool) -> Any:
    if as_json:
        return None
    return transfer_progress(lambda text, finished: click.echo(text, nl=finished, err=True), "Uploading: ")


@click.command("deploy")
@click.argument("name")
@deploy_options
@click.option("--wait", is_flag=True, help="Wait for the rollout to end; exit 1 if it does not succeed.")
@json_option
def deploy_command(name: str, wait: bool, as_json: bool, **opts: Any) -> None:
    """Create service NAME from a model, or roll a new version of it out (same options as %pai_deploy)."""
    request = deploy_request(name, **opts)
    svc = request.deploy(progress=_progress(as_json))
    for finding in svc.drift.findings if svc.drift is not None else ():
        click.echo(f"{finding.level}: environment drift: {finding.message}", err=True)
    record = svc.record
    if not as_json:
        newest = max(v.version for v in record.versions)
        click.echo(f"Deployed {record.name} v{newest} on {record.backend}.")
        click.echo(f"endpoint: {record.endpoint}")
        click.echo(token_help(record.name))
        click.echo(service_details(record))
    if wait and record.rollout is not None and record.rollout.active:
        final = svc.wait_rollout(on_update=None if as_json else (lambda r: click.echo(service_line(r))))
        record = svc.record
        if not as_json and final is not None:
            click.echo(rollout_details(final))
        emit(record.to_dict(), as_json)
        if final is not None and final.state != "succeeded":
            sys.exit(1)
        return
    emit(record.to_dict(), as_json)


@click.group("services")
def services_group() -> None:
    """List services and manage their versions, rollouts and tokens."""


@services_group.command("list")
@click.option("--search", "-s", default=None, help="Only services whose name contains this (any case).")
@click.option("--state", default=None, help="Only services in this state (Running, Failed, ...).")
@click.option("--limit", type=click.IntRange(min=1, max=500), default=50, show_default=True)
@click.option("--before", default=None, help="The page after the one that printed this cursor.")
@backend_option
@json_option
def services_list(
    search: str | None, state: str | None, limit: int, before: str | None, backend: str | None, as_json: bool
) -> None:
    """List services, newest first."""
    from ...decisions.actions import service_actions

    records, total, cursor = service_client.service_page(
        limit=limit, cursor=before, q=search, state=state, backend=backend
    )
    if as_json:
        items = [{**r.to_dict(), "actions": list(service_actions(r))} for r in records]
        emit({"services": items, "total": total, "next": cursor}, True)
        return
    click.echo(services_table(records))
    if records:
        more = f"; next page: --before {cursor}" if cursor else ""
        click.echo(f"Showing {len(records):,} of {total:,} service{'s' if total != 1 else ''}{more}.")


@services_group.command("show")
@click.argument("name")
@backend_option
@json_option
def services_show(name: str, backend: str | None, as_json: bool) -> None:
    """Show a service: versions, traffic, figures, rollout."""
    from ..render.services import ServiceFigures

    svc = service_client.get_service(name, backend=backend)
    figures = ServiceFigures()
    figures.add(svc.metrics(since=time.time() - 60))
    emit(svc.record.to_dict(), as_json, service_details(svc.record, figures))


@services_group.command("token")
@click.argument("name")
@backend_option
@json_option
def services_token(name: str, backend: str | None, as_json: bool) -> None:
    """Print the service's token (for the Authorization header)."""
    svc = service_client.get_service(name, backend=backend)
    emit({"name": name, "endpoint": svc.endpoint, "token": svc.token()}, as_json, svc.token())


@services_group.command("rollout")
@click.argument("name")
@click.argument("action", type=click.Choice(("status", *ROLLOUT_ACTIONS)), default="status")
@backend_option
@json_option
def services_rollout(name: str, action: str, backend: str | None, as_json: bool) -> None:
    """Show (status) or steer (pause, resume, promote, abort) the service's rollout."""
    svc = service_client.get_service(name, backend=backend)
    if action != "status":
        svc.rollout_action(action)
    lease = None
    if hasattr(svc.serving, "lease"):
        # aliyun: seeing the service reverts a rollout whose driver's lease ran out.
        svc._apply(svc.serving.reconcile_service(name, drive=False))
        lease = svc.serving.lease(name)
    rollout = svc.record.rollout
    text = rollout_details(rollout)
    if lease is not None:
        text += "\n" + lease_line(lease)
    data = rollout.to_dict() if rollout else None
    if data is not None and lease is not None:
        data["lease"] = lease
    emit(data, as_json, text)


def lease_line(lease: dict) -> str:
    """Who drives an aliyun rollout, and when its lease ends."""
    import time

    until = float(lease.get("until") or 0)
    left = until - time.time()
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
    status = f"in {left:.0f}s" if left >= 0 else f"{-left:.0f}s ago: reverted by the next client"
    return f"  driver: {lease.get('driver')}; lease ends {when} ({status})"


@services_group.command("rollback")
@click.argument("name")
@click.option("--to", "version", type=click.IntRange(min=1), required=True, help="Version number, e.g. 1.")
@backend_option
@json_option
def services_rollback(name: str, version: int, backend: str | None, as_json: bool) -> None:
    """Put all traffic back on an earlier version."""
    svc = service_client.get_service(name, backend=backend).rollback(version)
    emit(svc.record.to_dict(), as_json, f"Rolled {name} back to v{version}: {service_line(svc.record)}")


@services_group.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@backend_option
@json_option
def services_delete(name: str, yes: bool, backend: str | None, as_json: bool) -> None:
    """Delete a service: its endpoint, versions and instances."""
    svc = service_client.get_service(name, backend=backend)
    if not yes and not as_json:
        click.confirm(f"Delete {name} ({svc.endpoint}) and all its versions?", abort=True)
    svc.delete()
    emit({"name": name, "deleted": True}, as_json, f"Deleted {name}.")


@services_group.command("metrics")
@click.argument("name")
@click.option("--since", type=float, default=None, help="Unix time; default: the last 5 minutes.")
@backend_option
@json_option
def services_metrics(name: str, since: float | None, backend: str | None, as_json: bool) -> None:
    """Per-version QPS, latency, errors and instances over time."""
    svc = service_client.get_service(name, backend=backend)
    points = svc.metrics(since=since if since is not None else time.time() - 300)
    emit([asdict(p) for p in points], as_json, metrics_table(points))


@services_group.command("events")
@click.argument("name")
@click.option("--since", type=float, default=None, help="Unix time.")
@backend_option
@json_option
def services_events(name: str, since: float | None, backend: str | None, as_json: bool) -> None:
    """The service's history: deploys, gates, reverts, scaling, instance and auth events."""
    events = service_client.get_service(name, backend=backend).events(since=since)
    emit([asdict(e) for e in events], as_json, events_table(events))


def register(cli: click.Group) -> None:
    cli.add_command(deploy_command)
    cli.add_command(services_group)
