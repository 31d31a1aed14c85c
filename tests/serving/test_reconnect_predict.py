"""A Service object made before a control-plane restart predicts after it (the gateway moved)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pai_jupyter.api.services import Service
from pai_jupyter.backends.local import LocalBackend, ensure_server
from pai_jupyter.config import PaiConfig
from tests.conftest import stop_control_plane
from tests.serving.helpers import deploy

pytestmark = pytest.mark.slow


def test_predict_follows_the_gateway_after_a_restart(backend: LocalBackend, onnx_model: Path) -> None:
    deploy(backend, onnx_model, name="digits")
    svc = Service("digits", backend=backend)
    x = np.zeros((2, 64), dtype=np.float32)
    first = svc.predict(x)["outputs"]
    old_endpoint = svc.endpoint
    stop_control_plane(backend.config.home_path)
    ensure_server(PaiConfig())  # restarted elsewhere: the gateway listens on a new port
    assert svc.predict(x)["outputs"] == first
    assert svc.endpoint != old_endpoint
