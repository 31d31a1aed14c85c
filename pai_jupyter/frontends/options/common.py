"""Option plumbing shared by the job and service options, the magics and the CLI."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ...durations import parse_duration
from ...errors import PaiError, ValidationError

F = Callable[..., Any]


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_duration(
                value, f"--{param.name.replace('_', '-')}" if param and param.name else "duration"
            )
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def stack(*decorators: F) -> F:
    """One decorator that applies ``decorators`` in order (a reusable group of click options)."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


backend_option = click.option(
    "--backend", default=None, help="Backend to use for this call: local or aliyun (default: PaiConfig.backend)."
)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    """A CLI command's output: ``data`` as JSON with ``--json``, else the text view (if any)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif text is not None:
        click.echo(text)


@dataclass
class HelpShown:
    """Returned by ``parse_line`` when the user asked for ``--help``."""

    text: str


def join_continuation(line: str, cell: str) -> tuple[str, str]:
    """Options continued over several lines with a trailing ``\\`` (IPython passes
    only the first line of a cell magic as ``line``): move them out of the cell."""
    lines = cell.split("\n")
    while line.rstrip().endswith("\\") and lines:
        line = line.rstrip()[:-1] + " " + lines.pop(0).strip()
    return line, "\n".join(lines)


def parse_line(command: click.Command, line: str, prog: str) -> Any:
    """Run ``command``'s parser over a magic line; return what its callback returns.

    Raises ``PaiError`` with click's one-line message on a bad option.
    """
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise ValidationError(f"{prog}: could not parse the options: {exc}") from None
    if "--help" in argv or "-h" in argv:
        with click.Context(command, info_name=prog) as ctx:
            return HelpShown(command.get_help(ctx))
    try:
        ctx = command.make_context(prog, argv)
        with ctx:
            return command.invoke(ctx)
    except click.UsageError as exc:
        hint = f"see {prog} --help"
        message = exc.format_message()
        if isinstance(exc, click.NoSuchOption) and exc.possibilities and "did you mean" not in message.lower():
            hint = f"did you mean {', '.join('--' + p.lstrip('-') for p in exc.possibilities)}?"
        raise ValidationError(f"{prog}: {message}", hint) from None
    except click.exceptions.Exit:
        return HelpShown("")
    except PaiError:
        raise


def requirements_from_file(path: str | None) -> tuple[str, ...]:
    """The lines of ``--requirements FILE`` (comments dropped); one clear line when it is unreadable."""
    if not path:
        return ()
    from ...provenance.imports import read_requirements

    try:
        return read_requirements(path)
    except OSError as exc:
        raise ValidationError(
            f"--requirements {path}: {exc.strerror or exc}", "give a readable requirements file"
        ) from None
