"""The translation catalogues: extract the messages, compile them, check that none lacks a translation.

One ``.po`` per language holds both sides' messages:
``pai_jupyter/locale/<lang>/LC_MESSAGES/pai_jupyter.po``.

``extract``  collect every ``trans().__('...')`` / ``trans()._n('...', '...', n)`` of
             labextension/src and every ``_("...")`` / ``ngettext("...", "...", n)`` of the
             Python package into ``pai_jupyter/locale/pai_jupyter.pot``, and add the new
             ones (untranslated) to each language's ``.po``; translated messages no longer
             (or not yet) used are kept, untranslated ones dropped.
``compile``  write ``pai_jupyter.mo`` (Python's gettext) and ``pai_jupyter.json`` (the
             Jed-style data JupyterLab's translator loads through the ``jupyterlab.locale``
             entry point) beside each ``.po``.
``check``    exit 1, naming them, when a message has no translation, when the ``.po`` lacks
             a message of the sources, or when the compiled files are older than the ``.po``.

Run with the dev environment's Python (Babel comes with jupyterlab_server):
``python scripts/i18n.py extract && python scripts/i18n.py compile``.
"""

from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "pai_jupyter"
SOURCES_TS = REPO / "labextension" / "src"
LOCALE = PACKAGE / "locale"
DOMAIN = "pai_jupyter"
LANGUAGES = ("zh_CN",)
UNUSED = "not used by the sources here; kept with its translation"

_STRING = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\$]|\\.)*`)"""
# `.__('text', ...)` and `._n('one', 'many', n, ...)` on a translation bundle.
_TS_SINGULAR = re.compile(r"\.__\(\s*" + _STRING)
_TS_PLURAL = re.compile(r"\._n\(\s*" + _STRING + r"\s*,\s*" + _STRING)


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str | None
    where: str


def _ts_literal(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _where(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _in_comment(text: str, at: int) -> bool:
    """Whether a match sits on a comment line (``//`` or a ``/** ... */`` block's ``*``)."""
    start = text.rfind("\n", 0, at) + 1
    return text[start:at].lstrip().startswith(("//", "*", "/*"))


def extract_ts(root: Path = SOURCES_TS) -> list[Message]:
    found: list[Message] = []
    for path in sorted([*root.rglob("*.ts"), *root.rglob("*.tsx")]):
        text = path.read_text(encoding="utf-8")
        where = _where(path)
        for match in _TS_PLURAL.finditer(text):
            if not _in_comment(text, match.start()):
                line = text.count("\n", 0, match.start()) + 1
                found.append(Message(_ts_literal(match[1]), _ts_literal(match[2]), f"{where}:{line}"))
        for match in _TS_SINGULAR.finditer(text):
            if not _in_comment(text, match.start()):
                line = text.count("\n", 0, match.start()) + 1
                found.append(Message(_ts_literal(match[1]), None, f"{where}:{line}"))
    return found


def extract_py(root: Path = PACKAGE) -> list[Message]:
    keywords = {"_": None, "ngettext": (1, 2)}
    found: list[Message] = []
    for path in sorted(root.rglob("*.py")):
        if "_(" not in (source := path.read_text(encoding="utf-8")) and "ngettext(" not in source:
            continue
        where = _where(path)
        with path.open("rb") as fh:
            for line, _funcname, messages, _comments in extract_python(fh, keywords, [], {}):
                if isinstance(messages, tuple):
                    if all(isinstance(m, str) for m in messages[:2]):
                        found.append(Message(messages[0], messages[1], f"{where}:{line}"))
                elif isinstance(messages, str):
                    found.append(Message(messages, None, f"{where}:{line}"))
    return found


def extract() -> list[Message]:
    return extract_ts() + extract_py()


def _template(messages: list[Message]) -> Catalog:
    catalog = Catalog(domain=DOMAIN, project="pai-jupyter", fuzzy=False)
    for m in messages:
        msgid: str | tuple[str, str] = (m.msgid, m.plural) if m.plural else m.msgid
        path, _, line = m.where.rpartition(":")
        catalog.add(msgid, locations=[(path, int(line))])
    return catalog


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, project="pai-jupyter", fuzzy=False)
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, include_previous=False)
    path.write_bytes(buffer.getvalue())


def cmd_extract() -> int:
    template = _template(extract())
    _write(template, LOCALE / f"{DOMAIN}.pot")
    for lang in LANGUAGES:
        catalog = read_catalog(lang)
        catalog.update(template, no_fuzzy_matching=True)
        # A translated message the sources no longer (or not yet: another branch's panel) use is kept,
        # so merging that branch needs no new translation; untranslated leftovers are dropped.
        for message in catalog.obsolete.values():
            if message.string and (not isinstance(message.string, tuple) or all(message.string)):
                catalog.add(message.id, message.string, auto_comments=[UNUSED])
        catalog.obsolete.clear()
        _write(catalog, po_path(lang))
        missing = untranslated(catalog)
        print(f"{lang}: {len(catalog)} messages, {len(missing)} without a translation")
    return 0


def untranslated(catalog: Catalog) -> list[str]:
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def jed_json(catalog: Catalog, lang: str) -> dict[str, object]:
    """The catalogue as JupyterLab's Gettext loads it: {msgid: [translation, ...]} plus a "" header."""
    data: dict[str, object] = {
        "": {
            "domain": DOMAIN,
            "language": lang.replace("_", "-"),
            "plural_forms": catalog.plural_forms,
            "version": "pai-jupyter",
        }
    }
    for message in sorted((m for m in catalog if m.id), key=lambda m: str(m.id)):
        if message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            strings = list(message.string)
            if all(strings):
                data[message.id[0]] = strings
        elif message.string:
            data[message.id] = [message.string]
    return data


def compiled(lang: str) -> tuple[bytes, str]:
    catalog = read_catalog(lang)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    text = json.dumps(jed_json(catalog, lang), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return mo.getvalue(), text


def cmd_compile() -> int:
    for lang in LANGUAGES:
        mo, text = compiled(lang)
        folder = po_path(lang).parent
        (folder / f"{DOMAIN}.mo").write_bytes(mo)
        (folder / f"{DOMAIN}.json").write_text(text, encoding="utf-8")
        print(f"{lang}: wrote {DOMAIN}.mo and {DOMAIN}.json")
    return 0


def problems(messages: list[Message] | None = None) -> list[str]:
    """What `check` reports (for these messages, default: the sources'); empty when all is well."""
    out: list[str] = []
    messages = extract() if messages is None else messages
    for lang in LANGUAGES:
        catalog = read_catalog(lang)
        for m in messages:
            msgid = (m.msgid, m.plural) if m.plural else m.msgid
            if catalog.get(msgid) is None:
                out.append(
                    f"{lang}: {m.where}: {m.msgid!r} is not in {po_path(lang).relative_to(REPO)} (run extract)"
                )
        for msgid in untranslated(catalog):
            out.append(f"{lang}: {msgid!r} has no translation")
        mo, text = compiled(lang)
        folder = po_path(lang).parent
        for name, content in ((f"{DOMAIN}.mo", mo), (f"{DOMAIN}.json", text.encode())):
            path = folder / name
            if not path.exists() or path.read_bytes() != content:
                out.append(f"{lang}: {path.relative_to(REPO)} is not compiled from the .po (run compile)")
    return out


def cmd_check() -> int:
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"{len(extract())} message uses, all translated in {', '.join(LANGUAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    commands = {"extract": cmd_extract, "compile": cmd_compile, "check": cmd_check}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python scripts/i18n.py {{{'|'.join(commands)}}}")
    sys.exit(commands[sys.argv[1]]())
