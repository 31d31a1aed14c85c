"""Stop a control plane without deleting its services (restart tests)."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from pai_jupyter.controlplane.server import running_server


def stop_plane(home: Path) -> None:
    info = running_server(home)
    assert info, "no control plane is running"
    requests.post(f"{info['url']}/api/v1/shutdown", headers={"Authorization": f"token {info['token']}"}, timeout=5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and running_server(home):
        time.sleep(0.1)
