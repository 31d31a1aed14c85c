"""The Alibaba Cloud SDKs are core dependencies; without one, the aliyun backend is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from pai_jupyter.backends.aliyun import TRAINING_SDKS
from pai_jupyter.backends.aliyun.paiflow_client import PIPELINE_SDKS
from tests.aliyun.conftest import AliyunFakes

ROOT = Path(__file__).resolve().parents[2]


def test_sdks_are_core_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {d.split(">", 1)[0].split("=", 1)[0].strip().lower() for d in project["dependencies"]}
    assert set(TRAINING_SDKS.values()) | set(PIPELINE_SDKS.values()) | {"alibabacloud-eas20210701"} <= core
    assert project["optional-dependencies"]["aliyun"] == []  # an alias; `pip install pai-jupyter` is enough


def _train(tmp_path: Path, shadow: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``jupyter pai train --backend aliyun`` in a process where some SDK modules are replaced."""
    fake_site = tmp_path / f"shadow-{len(list(tmp_path.glob('shadow-*')))}"
    fake_site.mkdir()
    for relpath, text in shadow.items():
        (fake_site / relpath).parent.mkdir(parents=True, exist_ok=True)
        (fake_site / relpath).write_text(text)
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fake_site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "pai_jupyter.frontends.cli.main",
        "train",
        str(script),
        "--name",
        "sdk",
        "--backend",
        "aliyun",
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


@pytest.mark.slow
def test_a_missing_sdk_is_one_line(fakes: AliyunFakes, tmp_path: Path) -> None:
    missing = "raise ModuleNotFoundError(\"No module named 'oss2'\", name='oss2')\n"
    done = _train(tmp_path, {"oss2/__init__.py": missing})
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "Error: the aliyun backend needs the Alibaba Cloud SDK oss2, which is not installed"
    )
    assert "Traceback" not in done.stderr and "pip install" in done.stderr
    broken = "raise ImportError(\"cannot import name 'DaraModel' from 'darabonba.model'\")\n"
    done = _train(tmp_path, {"alibabacloud_pai_dlc20201203/__init__.py": broken})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "alibabacloud-pai-dlc20201203, which cannot be imported (cannot import name 'DaraModel'" in done.stderr
    assert not fakes.dlc.calls("CreateJob")


@pytest.mark.slow
def test_default_install_trains_on_aliyun(fakes: AliyunFakes, tmp_path: Path) -> None:
    """With nothing but the core dependencies, `--backend aliyun` runs a job against the fakes."""
    done = _train(tmp_path, {})
    assert done.returncode == 0, done.stderr
    (create,) = fakes.dlc.calls("CreateJob")
    assert create.json["DisplayName"] == "sdk"
