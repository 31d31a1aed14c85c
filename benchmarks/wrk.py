"""``wrk``, a load generator written in C, driving the serving benchmarks.

A Python load generator takes about as much CPU per request as the servers
it measures; on a small machine it takes that CPU from them and the figures
describe the client. ``wrk`` (Debian package ``wrk``, installed by
``scripts/install-bench-deps.sh``, which ``make bench`` runs) costs a few
microseconds per request. A Lua script makes every request a POST with the
JSON body and headers given, and prints wrk's own summary as one JSON line:
requests, socket errors, non-2xx answers and latency percentiles. The CPU
time wrk itself used comes from the kernel's accounting of the child
(``os.wait4``), so it can be set beside the servers' own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int  # socket errors (connect, read, write, timeout)
    non2xx: int  # answers with a status >= 400 (wrk's "status" errors)
    p50_ms: float
    p99_ms: float
    cpu_s: float  # user + system CPU time of the wrk process

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx

    @property
    def rps(self) -> float:
        """Answered requests per second, failures excluded."""
        return self.ok / self.seconds

    @property
    def failed(self) -> int:
        return self.errors + self.non2xx


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: run scripts/install-bench-deps.sh (Debian: apt-get install wrk)")
    return found


def wrk_version() -> str:
    out = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else "?"


def run_wrk(url: str, headers: dict[str, str], body: bytes, connections: int, seconds: float) -> WrkResult:
    """Closed-loop load: ``connections`` keep-alive connections on one wrk thread for ``seconds``."""
    header_lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    text = body.decode("utf-8")
    if "]==]" in text:
        raise ValueError("the body must not contain ']==]'")
    with tempfile.TemporaryDirectory(prefix="pai-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_SCRIPT % {"body": text, "headers": header_lines})
        argv = [
            wrk_path(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        out = proc.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK-JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out.strip()[-500:]}")
    data = json.loads(line[len("WRK-JSON ") :])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non2xx=data["status"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        cpu_s=usage.ru_utime + usage.ru_stime,
    )
