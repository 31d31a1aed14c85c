"""Test data for the UI tests, made through the client API against the local backend.

``submit-job``  a real job (in a small Git repo with an uncommitted change, so the
                provenance summary has a commit and the dirty flag) that reports a
                falling loss every 0.5 s; prints {"id": ...}.
``stop``        stop every job still running and the control plane.

Each command prints one JSON line last. PAI_JUPYTER_HOME selects the backend's state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = """\
import time
from pai_jupyter import report

print("epoch 1: loading digits", flush=True)
for step in range(1, 241):
    loss = 2.3 / (1 + 0.15 * step)
    report(step=step, loss=loss)
    if step % 5 == 0:
        print(f"step {step} loss {loss:.4f}", flush=True)
    time.sleep(0.5)
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def submit_job() -> dict[str, str]:
    from pai_jupyter.client import submit
    from pai_jupyter.specs.job import JobSpec

    repo = Path(tempfile.mkdtemp(prefix="pai-ui-repo-"))
    _git(repo, "init", "-q", "-b", "main")
    (repo / "model.py").write_text("HIDDEN = 64\n")
    _git(repo, "add", "model.py")
    _git(repo, "-c", "user.name=UI Tests", "-c", "user.email=ui@example.com", "commit", "-q", "-m", "model")
    (repo / "model.py").write_text("HIDDEN = 128  # trying a wider layer\n")
    spec = JobSpec(name="digits-mlp", framework="pytorch", workers=1, instance_type="ecs.gn6i-c4g1.xlarge")
    job = submit(TRAIN, spec, cwd=repo)
    return {"id": job.id, "name": job.name}


def stop() -> dict[str, str]:
    from pai_jupyter.backends.registry import get_backend
    from pai_jupyter.config import PaiConfig
    from pai_jupyter.controlplane.server import running_server

    config = PaiConfig()
    info = running_server(config.home_path)
    if not info:
        return {"stopped": "none running"}
    backend = get_backend("local", config)
    for record in backend.training.list(limit=500):
        if not record.is_terminal:
            backend.training.stop(record.id)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(not r.is_terminal for r in backend.training.list(limit=500)):
        time.sleep(0.2)
    backend.client.post("/api/v1/shutdown")  # type: ignore[attr-defined]
    return {"stopped": info["url"]}


COMMANDS = {"submit-job": submit_job, "stop": stop}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: pai_setup.py {{{'|'.join(COMMANDS)}}}")
    print(json.dumps(COMMANDS[sys.argv[1]]()))
