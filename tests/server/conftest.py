"""A real Jupyter server (pytest-jupyter) with the pai_jupyter extension, on an isolated local backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - pytest-jupyter's fixtures (jp_fetch, jp_serverapp, ...)


@pytest.fixture
def jp_server_config(pai_home: Path) -> dict[str, Any]:
    """Enable the extension; ``pai_home`` first so the extension sees the isolated state folder."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"pai_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "PaiExtension": {"push_interval": 0.1},
    }
