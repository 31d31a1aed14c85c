"""Environment sync on the local backend, through ``jupyter pai`` as users run it: the job
records its own environment at start and ``jobs show`` lists it against the kernel's."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from pai_jupyter.provenance.imports import code_imports, index_urls, plan_env_sync
from tests.conftest import run_cli as pai

SCRIPT = """
import os, sys
import numpy
from helpers import scale
print("scaled", scale(2))
"""
HELPERS = """
import json
import yaml


def _never_called():
    from . import nothing_here  # a relative import that resolves to no module: not followed, not pinned

def scale(x):
    return x * 2
"""


def _code(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    (code / "helpers.py").write_text(HELPERS)
    (code / "unused.py").write_text("import sklearn\n")  # never imported: not the job's need
    return code


def test_imports_are_followed_through_the_codes_own_modules(tmp_path: Path) -> None:
    code = _code(tmp_path)
    external, local = code_imports(code, "train.py")
    assert local == {"helpers"}
    assert {"numpy", "yaml", "os", "sys", "json"} <= external and "sklearn" not in external
    packages = {"numpy": "2.0.1", "pyyaml": "6.0.1", "scikit-learn": "1.5.0"}
    plan = plan_env_sync(code, "train.py", "", packages)
    assert plan.requirements == ["numpy==2.0.1", "pyyaml==6.0.1"]  # stdlib and local modules left out
    assert plan.distributions == {"numpy": "2.0.1", "pyyaml": "6.0.1"}
    assert plan_env_sync(code, "train.py", "", packages, "off").requirements == []
    assert index_urls(["torch==2.3.1+cu121", "torchvision==0.18.1+cu121", "numpy==2"]) == [
        "https://download.pytorch.org/whl/cu121"
    ]


@pytest.mark.slow
def test_jobs_show_lists_the_recorded_environment_and_the_diff(pai_home: Path, tmp_path: Path) -> None:
    code = _code(tmp_path)
    done = json.loads(pai("train", str(code / "train.py"), "--wait", "--json").stdout)
    assert done["state"] == "Succeeded"
    assert done["spec"]["requirements"] == [
        f"numpy=={metadata.version('numpy')}",
        f"pyyaml=={metadata.version('pyyaml')}",
    ]
    shown = json.loads(pai("jobs", "show", done["id"], "--json").stdout)
    env = shown["environment"]
    assert env["recorded"] and env["mode"] == "auto" and env["differs"] == []
    assert {"name": "numpy", "version": metadata.version("numpy")} in env["installed"]
    assert shown["provenance"]["env_sync"]["distributions"]["pyyaml"] == metadata.version("pyyaml")
    text = pai("jobs", "show", done["id"]).stdout
    assert f"env sync   the kernel's versions: numpy=={metadata.version('numpy')}" in text
    assert "env diff   none" in text

    reqs = tmp_path / "requirements.txt"
    reqs.write_text("numpy==0.0.1  # not what the kernel has\n")
    done = json.loads(pai("train", str(code / "train.py"), "--requirements", str(reqs), "--wait", "--json").stdout)
    assert done["spec"]["requirements"] == ["numpy==0.0.1"] and done["spec"]["env_sync"] == "file"
    env = json.loads(pai("jobs", "show", done["id"], "--json").stdout)["environment"]
    # The local backend runs the kernel's interpreter and installs nothing: the diff says so.
    assert {"name": "numpy", "kernel": metadata.version("numpy"), "job": metadata.version("numpy")} not in env[
        "differs"
    ]
    assert [d["name"] for d in env["differs"]] == ["numpy"]
    assert "0.0.1" in env["differs"][0]["why"]

    done = json.loads(pai("train", str(code / "train.py"), "--no-env-sync", "--wait", "--json").stdout)
    assert done["spec"]["env_sync"] == "off" and done["spec"]["requirements"] == []
    assert "env sync   nothing (--no-env-sync)" in pai("jobs", "show", done["id"]).stdout


def test_bad_requirements_file_is_one_line(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "t.py"
    script.write_text("print(1)\n")
    proc = pai("train", str(script), "--requirements", str(tmp_path / "missing.txt"), check=False)
    assert proc.returncode == 2 and "--requirements" in proc.stderr and "Traceback" not in proc.stderr
