"""The server extension reads the same configuration as the kernel and the CLI: a
``jupyter_pai_config.json`` in the Jupyter config path sets the sidebar's backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.server.helpers import get_json


@pytest.fixture
def config_file(pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "jupyter-config"
    folder.mkdir()
    path = folder / "jupyter_pai_config.json"
    path.write_text(json.dumps({"PaiConfig": {"backend": "aliyun"}}))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(folder))
    monkeypatch.delenv("PAI_JUPYTER_BACKEND", raising=False)
    return path


@pytest.fixture
def jp_server_config(config_file: Path, jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """The suite's server config, started once the config file is in place."""
    return jp_server_config


async def test_the_config_file_sets_the_sidebars_backend(jp_fetch: Any, config_file: Path) -> None:
    info = await get_json(jp_fetch, "info")
    assert info["backend"] == "aliyun"
