"""Translations: every message of the sidebar and of the front ends has a zh_CN translation, shipped
where JupyterLab and Python's gettext find it, and the magics and the CLI speak it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import pai_jupyter
from pai_jupyter.i18n import _
from tests.conftest import run_cli as pai

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(pai_jupyter.__file__).parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pai_i18n_tool", REPO / "scripts" / "i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


i18n = _tool()


def test_every_message_has_a_zh_cn_translation_and_the_catalogues_are_compiled() -> None:
    messages = i18n.extract()
    ids = {m.msgid for m in messages}
    # Both sides are extracted: the plugin, the notifications, the panels, the CLI and the magics.
    assert {"PAI: Show Jobs and Endpoints", "Open in PAI sidebar", "Jobs", "Aborted."} <= ids
    assert ("%1 worker", "%1 workers") in {(m.msgid, m.plural) for m in messages if m.plural}
    assert i18n.problems() == []


def test_a_new_message_without_a_translation_is_reported(tmp_path: Path) -> None:
    (tmp_path / "Panel.tsx").write_text(
        "const a = trans().__('A brand new label');\n"
        "// trans().__('in a comment: not a message')\n"
        "const b = trans()._n('%1 new row', '%1 new rows',\n  n);\n"
    )
    found = i18n.extract_ts(tmp_path)
    assert [(m.msgid, m.plural) for m in found] == [("%1 new row", "%1 new rows"), ("A brand new label", None)]
    reported = i18n.problems(found)
    assert any("'A brand new label' is not in" in line for line in reported), reported
    assert any("'%1 new row' is not in" in line for line in reported), reported


def test_jupyterlab_loads_the_sidebar_catalogue_through_the_locale_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """jupyterlab_server finds ``<package>/locale/<lang>/LC_MESSAGES/<name>.json`` by the entry point's name."""
    from jupyterlab_server import translation_utils

    pyproject = (REPO / "pyproject.toml").read_text()
    assert '[project.entry-points."jupyterlab.locale"]\npai_jupyter = "pai_jupyter"\n' in pyproject
    # What the installed entry point resolves to (the editable install may predate it).
    monkeypatch.setattr(
        translation_utils, "_get_installed_package_locales", lambda: ({"pai_jupyter": str(PACKAGE)}, "")
    )
    data, message = translation_utils.get_installed_packages_locale("zh_CN")
    assert message == ""
    catalogue = data["pai_jupyter"]
    assert catalogue[""]["domain"] == "pai_jupyter" and catalogue[""]["language"] == "zh-CN"
    assert catalogue["Jobs"] == ["任务"] and catalogue["%1 worker"] == ["%1 个 worker"]
    shipped = json.loads((PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "pai_jupyter.json").read_text())
    assert shipped == catalogue


def test_python_messages_follow_the_gettext_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    assert _("Aborted.") == "已中止。"
    assert _("Error: {message}").format(message="x") == "错误：x"
    monkeypatch.setenv("LANGUAGE", "en")
    assert _("Aborted.") == "Aborted."


def test_the_magic_says_its_error_in_chinese(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    with pytest.raises(UsageError, match="单元格为空"):
        ip.run_cell_magic("pai_train", "--name x", "   \n")


def test_the_cli_says_its_error_lines_in_chinese(pai_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "zh_CN:en")
    proc = pai("storage", "ls", "s3://x", check=False)
    assert proc.returncode == 2
    first = proc.stderr.splitlines()[0]
    assert first.startswith("错误：") and "is not an oss:// URI" in first, proc.stderr
