"""The shared backend contract: the same tests on the local backend (real control
plane) and on the aliyun backend (real SDK clients against the fake DLC/OSS servers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pai_jupyter.backends.base import Backend


@pytest.fixture(params=["local", "aliyun"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    from pai_jupyter.backends.registry import get_backend
    from pai_jupyter.config import PaiConfig, current_config

    if request.param == "local":
        request.getfixturevalue("pai_home")
        yield get_backend("local", current_config())
        return
    from tests.aliyun.conftest import start_fakes, stop_fakes

    fakes = start_fakes(tmp_path, monkeypatch)
    try:
        yield get_backend("aliyun", PaiConfig())
    finally:
        stop_fakes(fakes)
    assert not fakes.dlc.errors, f"the backend broke the DLC contract: {fakes.dlc.errors}"
    assert fakes.eas is None or not fakes.eas.errors, f"the backend broke the EAS contract: {fakes.eas.errors}"  # type: ignore[attr-defined]


@pytest.fixture
def bucket(backend: Backend) -> str:
    from pai_jupyter.config import current_config

    config = current_config()
    return config.oss_bucket or config.default_bucket
