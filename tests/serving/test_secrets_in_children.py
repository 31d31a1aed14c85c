"""No child of the control plane (job worker, model instance, custom command) gets its token."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli, wait_until

TOKEN = "cp-token-" + "x" * 24

# A custom serving command that records its environment, then serves (EAS's custom-container contract).
APP = textwrap.dedent(
    """
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    with open(sys.argv[1], "w") as fh:
        json.dump(dict(os.environ), fh)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    HTTPServer(("127.0.0.1", int(os.environ["LISTENING_PORT"])), H).serve_forever()
    """
)


@pytest.mark.slow
def test_model_instances_and_jobs_never_see_the_control_planes_token(
    serving_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAI_JUPYTER_SERVER_TOKEN", TOKEN)  # how a user pins the control plane's token
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    seen = tmp_path / "instance-env.json"
    run_cli("deploy", "envdump", "--model", str(app), "--command", f"{sys.executable} app.py {seen}")
    instance_env = json.loads(wait_until(lambda: seen.exists() and seen.read_text(), what="the instance's env"))

    script = tmp_path / "train.py"
    job_seen = tmp_path / "job-env.json"
    script.write_text(f"import json, os\njson.dump(dict(os.environ), open({str(job_seen)!r}, 'w'))\n")
    run_cli("train", str(script), "--wait")
    job_env = json.loads(job_seen.read_text())

    assert "LISTENING_PORT" in instance_env and "RANK" in job_env  # they are the children we meant
    for env in (instance_env, job_env):
        assert "PAI_JUPYTER_SERVER_TOKEN" not in env
        assert TOKEN not in json.dumps(env)
    run_cli("services", "delete", "envdump", "--yes")
