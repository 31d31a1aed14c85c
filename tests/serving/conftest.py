"""Fixtures for serving tests: tiny real models, a local backend with short loop intervals."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import Service, services
from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig

sys.path.insert(0, str(Path(__file__).parent))
import models


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def onnx_model(model_dir: Path) -> Path:
    return models.onnx_linear(model_dir / "onnx-a" / "model.onnx", seed=0)


@pytest.fixture(scope="session")
def onnx_model_b(model_dir: Path) -> Path:
    """Same signature as ``onnx_model``, other weights."""
    return models.onnx_linear(model_dir / "onnx-b" / "model.onnx", seed=1)


@pytest.fixture(scope="session")
def onnx_model_other_api(model_dir: Path) -> Path:
    """Incompatible with ``onnx_model``: 32 inputs named ``z``."""
    return models.onnx_linear(model_dir / "onnx-c" / "model.onnx", n_in=32, name="z")


@pytest.fixture
def serving_env(pai_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Short loop intervals for the control plane these tests start."""
    monkeypatch.setenv("PAI_SERVING_AUTOSCALE_INTERVAL_S", "0.3")
    monkeypatch.setenv("PAI_SERVING_ROLLOUT_INTERVAL_S", "0.1")
    monkeypatch.setenv("PAI_SERVING_SNAPSHOT_INTERVAL_S", "1")
    monkeypatch.setenv("PAI_SERVING_QPS_WINDOW_S", "2")
    monkeypatch.setenv("PAI_SERVING_HEALTH_INTERVAL_S", "0.3")
    return pai_home


@pytest.fixture
def ip(serving_env: Path, workdir: Path) -> Iterator[InteractiveShell]:
    """A real IPython shell with the magics loaded; every service it made is deleted afterwards."""
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    yield shell
    try:
        for record in services():
            Service(record.name).delete()
    except Exception:
        pass
    shell.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


@pytest.fixture
def backend(serving_env: Path) -> Iterator[LocalBackend]:
    be = LocalBackend(PaiConfig())
    yield be
    try:
        for record in be.serving.list():
            be.serving.delete(record.name)
    except Exception:
        pass
    be.close()
