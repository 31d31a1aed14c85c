"""Serving magics: ``%pai_deploy``, ``%pai_rollout``, ``%pai_rollback``, ``%pai_services``.

Thin like ``magics.py``: parse with the click commands shared with the CLI
(``frontends.options.services``), call the client API (``api.services``), render. Bad
input raises ``UsageError``: IPython prints one line, no traceback.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ...api import services as service_client
from ...records import ROLLOUT_ACTIONS
from ..options.common import backend_option
from ..options.services import DeployRequest, deploy_options, deploy_request
from ..render.common import transfer_progress
from ..render.services import rollout_details, service_details, service_line, services_table, token_help
from .common import MagicHelpers, guard, help_doc


@dataclass
class DeployArgs:
    request: DeployRequest
    as_name: str
    widget: bool
    wait: bool


@click.command("%pai_deploy", help="Create a service from a model, or roll a new version out to it.")
@click.argument("name")
@deploy_options
@click.option(
    "--as", "as_name", default="_pai_service", show_default=True, help="Variable that receives the Service."
)
@click.option("--wait", is_flag=True, help="Block until the rollout ends (a failed rollout fails the cell).")
@click.option("--no-widget", is_flag=True, help="Print text instead of showing a live widget.")
def _deploy_parser(name: str, as_name: str, wait: bool, no_widget: bool, **opts: Any) -> DeployArgs:
    if not as_name.isidentifier():
        raise click.BadParameter(f"{as_name!r} is not a Python variable name", param_hint="--as")
    return DeployArgs(deploy_request(name, **opts), as_name, not no_widget, wait)


@click.command("%pai_rollout", help="Show or steer a service's rollout.")
@click.argument("name")
@click.argument("action", type=click.Choice(("status", *ROLLOUT_ACTIONS)), default="status")
@backend_option
def _rollout_parser(**kw: Any) -> dict[str, Any]:
    return kw


@click.command("%pai_rollback", help="Put all traffic back on an earlier version.")
@click.argument("name")
@click.option("--to", "version", type=click.IntRange(min=1), required=True, help="Version number, e.g. 1.")
@backend_option
def _rollback_parser(**kw: Any) -> dict[str, Any]:
    return kw


@click.command("%pai_services", help="List services, or show one with its versions and rollout.")
@click.argument("name", required=False)
@backend_option
def _services_parser(**kw: Any) -> dict[str, Any]:
    return kw


def _progress_printer() -> Any:
    return transfer_progress(
        lambda text, finished: print(text, end="\n" if finished else ""), "Uploading the model: "
    )


@magics_class
class ServingMagics(MagicHelpers, Magics):
    def _show(self, svc: service_client.Service) -> None:
        if self._widgets:
            from IPython.display import display

            from ..widgets.services import ServiceWidget

            display(ServiceWidget(svc))

    @line_magic
    @guard
    def pai_deploy(self, line: str) -> None:
        """Deploy a model. See ``%pai_deploy --help``."""
        args = self._parse(_deploy_parser, line, "%pai_deploy")
        if args is None:
            return
        svc = args.request.deploy(progress=_progress_printer())
        self.shell.user_ns[args.as_name] = svc
        for finding in svc.drift.findings if svc.drift is not None else ():
            print(f"{finding.level}: environment drift: {finding.message}", file=sys.stderr)
        record = svc.record
        newest = max(record.versions, key=lambda v: v.version)
        rollout = record.rollout
        if rollout is not None and rollout.active and rollout.to_version == newest.version:
            print(
                f"Deployed {record.name} v{newest.version}: rolling out from v{rollout.from_version} "
                f"({' -> '.join(f'{w:g}%' for w in rollout.plan)}); steer it with "
                f"`%pai_rollout {record.name} status|pause|resume|promote|abort`."
            )
        elif args.request.new_api_version and newest.weight == 0:
            print(
                f"Deployed {record.name} v{newest.version} as a new API version beside the serving one: "
                f"{record.endpoint}@v{newest.version}; call it with {args.as_name}.predict(..., version={newest.version})."
            )
        else:
            print(f"Deployed {record.name} v{newest.version} ({newest.processor}) on {record.backend}.")
        print(f"endpoint: {record.endpoint}")
        print(token_help(record.name, args.as_name))
        print(f"predict: {args.as_name}.predict(...)  (available as `{args.as_name}`)")
        if args.widget and self._widgets:
            self._show(svc)
        else:
            print()
            print(service_details(record))
        if args.wait and rollout is not None and rollout.active:
            final = svc.wait_rollout(
                on_update=None if args.widget and self._widgets else (lambda r: print(service_line(r), flush=True))
            )
            if final is not None and final.state != "succeeded":
                raise UsageError(
                    f"rollout of {record.name} v{final.to_version} {final.state}: {final.reason or ''}"
                )

    @line_magic
    @guard
    def pai_rollout(self, line: str) -> None:
        """Show or steer a rollout. See ``%pai_rollout --help``."""
        args = self._parse(_rollout_parser, line, "%pai_rollout")
        if args is None:
            return
        svc = service_client.get_service(args["name"], backend=args["backend"])
        if args["action"] != "status":
            svc.rollout_action(args["action"])
        print(rollout_details(svc.record.rollout))

    @line_magic
    @guard
    def pai_rollback(self, line: str) -> None:
        """Roll back to an earlier version. See ``%pai_rollback --help``."""
        args = self._parse(_rollback_parser, line, "%pai_rollback")
        if args is None:
            return
        svc = service_client.get_service(args["name"], backend=args["backend"])
        svc.rollback(args["version"])
        print(f"Rolled {svc.name} back to v{args['version']}: {service_line(svc.record)}")

    @line_magic
    @guard
    def pai_services(self, line: str) -> None:
        """List services (or show one). See ``%pai_services --help``."""
        args = self._parse(_services_parser, line, "%pai_services")
        if args is None:
            return
        if args["name"]:
            svc = service_client.get_service(args["name"], backend=args["backend"])
            print(service_details(svc.record))
            self._show(svc)
            return
        print(services_table(service_client.services(backend=args["backend"])))


__all__ = ["ServingMagics"]


# ``%pai_deploy?`` shows what ``%pai_deploy --help`` prints.
ServingMagics.pai_deploy.__doc__ = help_doc(_deploy_parser, "%pai_deploy")
ServingMagics.pai_rollout.__doc__ = help_doc(_rollout_parser, "%pai_rollout")
ServingMagics.pai_rollback.__doc__ = help_doc(_rollback_parser, "%pai_rollback")
ServingMagics.pai_services.__doc__ = help_doc(_services_parser, "%pai_services")
