"""What ``pip install`` ships for JupyterLab: the prebuilt labextension and the server-extension switch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pai_jupyter

PACKAGE = Path(pai_jupyter.__file__).parent
REPO = PACKAGE.parent


def test_server_extension_is_enabled_by_the_shipped_config() -> None:
    config = json.loads((REPO / "jupyter-config" / "server-config" / "pai_jupyter.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"pai_jupyter": True}
    [point] = pai_jupyter._jupyter_server_extension_points()
    assert point["module"] == "pai_jupyter.server.extension" and point["app"].name == "pai_jupyter"


def test_prebuilt_labextension_is_complete() -> None:
    [path] = pai_jupyter._jupyter_labextension_paths()
    built = PACKAGE / path["src"]
    if not (built / "package.json").exists():
        pytest.skip("the labextension is not built here (make labextension)")
    meta = json.loads((built / "package.json").read_text())
    assert meta["name"] == path["dest"] == "pai-jupyter"
    assert (built / meta["jupyterlab"]["_build"]["load"]).is_file()
    assert (built / "static" / "style.js").is_file()  # pyproject's ensured target


@pytest.mark.slow
def test_jupyter_lists_both_extensions_enabled() -> None:
    """As the venv's Jupyter sees them after ``make install`` (or ``pip install``)."""
    bin_dir = Path(sys.executable).parent
    if not (Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "pai-jupyter").exists():
        pytest.skip("the labextension is not installed in this environment (make install)")
    labext = subprocess.run(
        [bin_dir / "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=60
    )
    lines = [line for line in (labext.stdout + labext.stderr).splitlines() if "pai-jupyter" in line]
    assert any("enabled" in line and "OK" in line for line in lines), lines
    server = subprocess.run(
        [bin_dir / "jupyter", "server", "extension", "list"], capture_output=True, text=True, timeout=60
    )
    lines = [line for line in (server.stdout + server.stderr).splitlines() if "pai_jupyter" in line]
    assert any("enabled" in line for line in lines), lines
