"""Translations of the user-facing messages of the magics and the CLI (gettext domain ``pai_jupyter``).

The catalogues ship in ``pai_jupyter/locale/<lang>/LC_MESSAGES/pai_jupyter.mo``
(compiled from the ``.po`` beside it by ``scripts/i18n.py compile``); the
language is chosen the gettext way, from ``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES`` or ``LANG`` (``LANG=zh_CN.UTF-8`` gives Simplified Chinese).
The same folder holds ``pai_jupyter.json``, the sidebar's catalogue, which
JupyterLab loads through the ``jupyterlab.locale`` entry point.

Messages use named placeholders, so a translation may reorder them:
``_("Submitted {id} on {backend}.").format(id=..., backend=...)``.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

DOMAIN = "pai_jupyter"
LOCALE_DIR = Path(__file__).parent / "locale"
_ENV = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@functools.lru_cache(maxsize=8)
def _catalogue(languages: tuple[str, ...]) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=list(languages) or None, fallback=True)


def translation() -> gettext.NullTranslations:
    """The catalogue for the current environment (looked up again when the variables change)."""
    env = tuple(os.environ.get(name, "") for name in _ENV)
    languages: list[str] = []
    for value in env:
        if value:
            languages = [part for part in value.split(":") if part]
            break
    return _catalogue(tuple(languages))


def _(message: str) -> str:
    """The message in the user's language (the message itself when there is no translation)."""
    return translation().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translation().ngettext(singular, plural, n)
