"""What every magics class shares: one-line errors, ``--help`` handling, widget detection."""

from __future__ import annotations

import functools
from typing import Any

import click
from IPython.core.error import UsageError

from ...errors import PaiError
from ..options.common import HelpShown, parse_line


def guard(func: Any) -> Any:
    """Turn PaiErrors into UsageError: one line, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PaiError as exc:
            raise UsageError(str(exc)) from None

    return wrapper


def help_doc(command: click.Command, prog: str) -> str:
    """A magic's docstring: its full ``--help`` text, so ``%%pai_train?`` shows every option."""
    return parse_line(command, "--help", prog).text


class MagicHelpers:
    """Mixin for ``Magics`` subclasses: parse a magic's line and tell whether widgets can show."""

    shell: Any

    def _parse(self, command: click.Command, line: str, prog: str) -> Any:
        """The command's result, or None when ``--help`` was asked for (the help is printed)."""
        result = parse_line(command, line, prog)
        if isinstance(result, HelpShown):
            print(result.text)
            return None
        return result

    @property
    def _widgets(self) -> bool:
        """True in a kernel (ipywidgets is a dependency); a terminal IPython gets text."""
        return getattr(self.shell, "kernel", None) is not None
