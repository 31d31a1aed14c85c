"""PaiConfig's derived settings, and the one configuration loader (file < env < flag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.backends.registry import get_backend
from pai_jupyter.config import PaiConfig, current_config
from pai_jupyter.errors import ValidationError
from tests.conftest import run_cli


def test_bucket_prefers_the_oss_bucket_then_the_default_and_refuses_none() -> None:
    config = PaiConfig()
    assert config.bucket == config.default_bucket == "pai-jupyter"
    config.oss_bucket = "team-models"
    assert config.bucket == "team-models"
    config.oss_bucket = config.default_bucket = ""
    with pytest.raises(ValidationError, match="no OSS bucket is configured"):
        _ = config.bucket


def _config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str = "aliyun") -> Path:
    """A jupyter_pai_config.json in a folder of the Jupyter config path, and no environment override."""
    folder = tmp_path / "jupyter-config"
    folder.mkdir()
    path = folder / "jupyter_pai_config.json"
    path.write_text(json.dumps({"PaiConfig": {"backend": backend}, "PaiServing": {"rollout_interval_s": 0.5}}))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(folder))
    monkeypatch.delenv("PAI_JUPYTER_BACKEND", raising=False)
    monkeypatch.delenv("PAI_SERVING_ROLLOUT_INTERVAL_S", raising=False)
    return path


def test_a_config_file_sets_the_backend_of_a_kernel(
    pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config_dir(tmp_path, monkeypatch)
    shell = InteractiveShell.instance()
    try:
        shell.extension_manager.load_extension("pai_jupyter")
        config = current_config()
        assert config.backend == "aliyun"
        assert config.sources()["backend"] == ("aliyun", f"file {path}")
        assert get_backend(None, config).id == "aliyun"
        shell.run_line_magic("config", "PaiConfig.backend = 'local'")  # %config wins, like a flag
        assert current_config().sources()["backend"] == ("local", "app config")
    finally:
        shell.extension_manager.unload_extension("pai_jupyter")
        InteractiveShell.clear_instance()


def test_jupyter_pai_config_shows_each_value_and_its_source(
    pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config_dir(tmp_path, monkeypatch)
    data = json.loads(run_cli("config", "--json").stdout)
    assert data["files"] == [str(path)]
    settings = data["settings"]
    assert settings["PaiConfig.backend"] == {"value": "aliyun", "source": f"file {path}"}
    assert settings["PaiServing.rollout_interval_s"] == {"value": 0.5, "source": f"file {path}"}
    assert settings["PaiConfig.home"]["source"] == "env PAI_JUPYTER_HOME"
    assert settings["PaiServing.qps_window_s"] == {"value": 10.0, "source": "default"}
    # The environment beats the file; the file's backend is the one `jupyter pai ...` uses.
    monkeypatch.setenv("PAI_JUPYTER_BACKEND", "local")
    data = json.loads(run_cli("config", "--json").stdout)
    assert data["settings"]["PaiConfig.backend"] == {"value": "local", "source": "env PAI_JUPYTER_BACKEND"}
    monkeypatch.delenv("PAI_JUPYTER_BACKEND")
    text = run_cli("config").stdout
    assert "PaiConfig.backend" in text and f"file {path}" in text


def test_a_bad_config_file_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config_dir(tmp_path, monkeypatch)
    path.write_text("{not json")
    with pytest.raises(ValidationError, match="cannot read") as info:
        _ = PaiConfig().backend
    assert str(path) in info.value.message and "\n" not in info.value.message
