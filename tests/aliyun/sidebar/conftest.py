"""A real Jupyter server with the pai_jupyter extension, configured for the aliyun backend
on the fake servers (the ``fakes`` fixture sets the environment before the server starts)."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - jp_fetch, jp_serverapp, ...

from tests.aliyun.conftest import AliyunFakes


@pytest.fixture
def jp_server_config(fakes: AliyunFakes) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"pai_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "PaiExtension": {"push_interval": 0.1},
    }
