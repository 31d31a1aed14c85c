"""Fixtures shared by the whole suite.

``pai_home`` isolates the local backend per test (its own state folder and
runtime folder) and stops its control plane afterwards, with any job still
running, so no process outlives a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.backends.registry import reset_backends
from pai_jupyter.config import PaiConfig, set_current_config

REPO = Path(__file__).resolve().parents[1]


def stop_control_plane(home: Path) -> None:
    import requests

    from pai_jupyter.controlplane.server import running_server

    info = running_server(home)
    if not info:
        return
    headers = {"Authorization": f"token {info['token']}"}
    try:
        jobs = requests.get(f"{info['url']}/api/v1/jobs", headers=headers, timeout=5).json()["jobs"]
        for job in jobs:
            if job["state"] not in ("Succeeded", "Failed", "Stopped"):
                requests.post(f"{info['url']}/api/v1/jobs/{job['id']}/stop", headers=headers, timeout=5)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            jobs = requests.get(f"{info['url']}/api/v1/jobs", headers=headers, timeout=5).json()["jobs"]
            if all(j["state"] in ("Succeeded", "Failed", "Stopped") for j in jobs):
                break
            time.sleep(0.2)
        requests.post(f"{info['url']}/api/v1/shutdown", headers=headers, timeout=5)
    except requests.RequestException:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running_server(home):
        time.sleep(0.1)


@pytest.fixture
def pai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "pai-home"
    monkeypatch.setenv("PAI_JUPYTER_HOME", str(home))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("PAI_JUPYTER_BACKEND", "local")
    monkeypatch.setenv("PAI_METRICS_FLUSH", "0.2")
    monkeypatch.delenv("PAI_METRICS_FILE", raising=False)
    reset_backends()
    set_current_config(None)
    yield home
    stop_control_plane(home)
    reset_backends()
    set_current_config(None)


@pytest.fixture
def pai_config(pai_home: Path) -> PaiConfig:
    return PaiConfig()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plain (non-Git) working folder, as the kernel's cwd."""
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def ip(pai_home: Path, workdir: Path) -> Iterator[InteractiveShell]:
    """A real IPython shell with the pai_jupyter magics loaded, on an isolated local backend."""
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    yield shell
    shell.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


def python_env() -> dict[str, str]:
    """Environment for subprocesses (CLI tests) that must see this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30, what: str = "condition", every: float = 0.1
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def run_cli(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``jupyter pai ARGS`` from this checkout as a subprocess, as users run it.

    With ``check``, a non-zero exit fails the test with the command's output.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "pai_jupyter.frontends.cli.main", *args],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


PYTHON = sys.executable
