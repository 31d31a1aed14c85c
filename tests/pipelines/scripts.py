"""Tiny pipeline step scripts for the tests: each runs in well under a second.

The "model" is a custom processor (a stdlib HTTP server on $LISTENING_PORT, EAS's custom
container contract) that answers with the quality it was trained to, so a test can tell which
version serves. The raw data carries the quality the candidate will reach.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

PREP = """
import json, os, pathlib
raw = pathlib.Path(os.environ["PAI_INPUT_RAW"])
rows = [json.loads(p.read_text()) for p in sorted(raw.rglob("*.json"))]
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
(out / "data.json").write_text(json.dumps({"quality": rows[-1]["quality"], "rows": len(rows)}))
print("prepared", len(rows), "rows")
"""

SERVER = """
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
QUALITY = json.load(open("weights.json"))["quality"]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self._send(b"{}")
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(json.dumps({"quality": QUALITY}).encode())

ThreadingHTTPServer(("127.0.0.1", int(os.environ["LISTENING_PORT"])), Handler).serve_forever()
"""

TRAIN = f"""
import json, os, pathlib
data = json.loads((pathlib.Path(os.environ["PAI_INPUT_DATA"]) / "data.json").read_text())
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
(out / "weights.json").write_text(json.dumps({{"quality": data["quality"]}}))
(out / "app.py").write_text({SERVER!r})
print("trained to", data["quality"])
"""

EVAL = """
import json, os, pathlib
from pai_jupyter import report
model = json.loads((pathlib.Path(os.environ["PAI_INPUT_MODEL"]) / "weights.json").read_text())
held_out = list(pathlib.Path(os.environ["PAI_INPUT_HELDOUT"]).rglob("*.json"))
assert held_out, "no held-out data"
report(accuracy=model["quality"])
out = pathlib.Path(os.environ["PAI_OUTPUT_MODEL"])
(out / "metrics.json").write_text(json.dumps({"latency_p95_ms": 7.5}))
"""

# Waits for a file (its path in $GO_FILE) so a test can restart the control plane while it runs.
WAIT_FOR_GO = """
import os, pathlib, time
deadline = time.time() + 60
while not pathlib.Path(os.environ["GO_FILE"]).exists():
    assert time.time() < deadline, "no go file"
    time.sleep(0.1)
(pathlib.Path(os.environ["PAI_OUTPUT_MODEL"]) / "done.txt").write_text("ok")
"""

HELLO = """
print("hello from a pipeline step")
"""


def write_scripts(folder: Path) -> None:
    for name, text in {
        "prep.py": PREP,
        "train.py": TRAIN,
        "eval.py": EVAL,
        "wait_for_go.py": WAIT_FOR_GO,
        "hello.py": HELLO,
    }.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())


def put_json(storage_root: Path, uri: str, data: dict) -> None:
    """Write an object into the local backend's storage (oss://bucket/key -> <root>/bucket/key)."""
    bucket, key = uri[len("oss://") :].split("/", 1)
    path = storage_root / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
