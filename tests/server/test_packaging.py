"""What ``pip install`` ships for JupyterLab: the prebuilt labextension and the server-extension switch."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import pai_jupyter

PACKAGE = Path(pai_jupyter.__file__).parent
REPO = PACKAGE.parent
# pytest-jupyter points HOME at a temp folder while a test runs; pip's own configuration
# (index, find-links) lives under the real one.
REAL_HOME = Path.home()


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
    # The settings schema (Settings Editor) and install.json (the extension manager's "installed with pip").
    schema = json.loads((built / "schemas" / "pai-jupyter" / "sidebar.json").read_text())
    assert set(schema["properties"]) == {"refreshSeconds", "defaultTab", "notifications", "charts"}
    assert json.loads((built / "install.json").read_text()) == json.loads((REPO / "install.json").read_text())


def test_extension_template_metadata() -> None:
    """install.json and the discovery metadata as the JupyterLab extension template writes them."""
    install = json.loads((REPO / "install.json").read_text())
    assert install["packageManager"] == "python" and install["packageName"] == "pai-jupyter"
    assert "pai-jupyter" in install["uninstallInstructions"]
    lab = json.loads((REPO / "labextension" / "package.json").read_text())["jupyterlab"]
    assert lab["discovery"] == {"server": {"managers": ["pip"], "base": {"name": "pai-jupyter"}}}
    assert lab["schemaDir"] == "schema"
    schema = json.loads((REPO / "labextension" / "schema" / "sidebar.json").read_text())
    defaults = {name: prop["default"] for name, prop in schema["properties"].items()}
    assert defaults == {
        "refreshSeconds": 1,
        "defaultTab": "jobs",
        "notifications": True,
        "charts": ["loss", "throughput", "gpu"],
    }


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


@pytest.mark.slow
def test_the_wheel_ships_the_prebuilt_labextension_and_the_server_config(tmp_path: Path) -> None:
    """``pip install pai-jupyter`` gives JupyterLab the sidebar with no Node and no enable step.

    Built from a clean export of the checkout (plus the built labextension), as a
    fresh clone would be: building in place would rewrite files of the working tree.
    """
    if not (PACKAGE / "labextension" / "static" / "style.js").exists():
        pytest.skip("the labextension is not built here (make labextension)")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip("not a Git checkout")
    source = tmp_path / "src"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(source, filter="data")
    shutil.copytree(PACKAGE / "labextension", source / "pai_jupyter" / "labextension")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "JUPYTER_"))}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "HOME": str(REAL_HOME)},
    )
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = tmp_path.glob("pai_jupyter-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        data = next(n.split("/data/")[0] for n in names if ".data/data/" in n) + "/data/"
        labext = data + "share/jupyter/labextensions/pai-jupyter/"
        meta = json.loads(zf.read(labext + "package.json"))
        assert labext + meta["jupyterlab"]["_build"]["load"] in names
        assert labext + "static/style.js" in names
        config = json.loads(zf.read(data + "etc/jupyter/jupyter_server_config.d/pai_jupyter.json"))
        assert json.loads(zf.read(labext + "install.json"))["packageName"] == "pai-jupyter"
        assert labext + "schemas/pai-jupyter/sidebar.json" in names
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert config["ServerApp"]["jpserver_extensions"]["pai_jupyter"] is True
    assert "pai_jupyter/server/extension.py" in names
    # The translations: JupyterLab's catalogue (found by the jupyterlab.locale entry point) and gettext's.
    assert "pai_jupyter/locale/zh_CN/LC_MESSAGES/pai_jupyter.json" in names
    assert "pai_jupyter/locale/zh_CN/LC_MESSAGES/pai_jupyter.mo" in names
    assert "[jupyterlab.locale]\npai_jupyter = pai_jupyter" in entry_points
