"""Batching on a mid-size model: ``python -m benchmarks batching``.

Model: an MLP 256-1024-1024-1024-10 (ReLU) in ONNX, built here from seeded
numpy weights (no download), one row of 256 floats per request. Three servers
of the same model on the same machine, one model thread each:

* ours, batched: the local backend, one instance deployed with
  ``--max-batch-size 32 --max-batch-timeout 10``, called through the gateway
  (``/api/predict/<svc>`` with its token), as users call it;
* ours, unbatched: the same, without batching;
* the same two instances called directly (``/predict`` on the instance's
  port, no gateway): what batching does to the model server alone, apart
  from the gateway's own cost per request;
* LitServe with batching on (``max_batch_size=32``, ``batch_timeout=0.01``),
  one worker, called directly (no gateway in front of it). Only where
  ``litserve`` imports: it is not a dependency of pai-jupyter; install it
  with ``pip install litserve`` to include it. Its version is recorded.

Load: ``wrk`` (the native load generator, ``/usr/bin/wrk``; Debian package
``wrk``), one thread, 64 connections, a Lua script for the POST body and
headers. Rounds alternate between the servers (ours, peer, ours, peer, with
the order rotated each round), every server gets the same number of runs, and
the figure is the median of its runs. Each run reports requests/s, p99 latency,
failed requests (non-2xx answers and socket errors: a failed request never
counts as served) and the CPU time per request of each process involved
(user + system from the kernel's accounting, psutil), the load generator's
included. Targets: batched >= 3x unbatched requests/s with p99 <= 100 ms, and
ahead of LitServe.

Before the runs, every server's answer to one request is checked against the
numpy forward pass of the same weights.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import requests

from benchmarks.loadgen import free_port, wait_port
from benchmarks.local_backend import isolate, stop_server

LAYERS = (256, 1024, 1024, 1024, 10)
CONNECTIONS = 64
BATCH = 32
TIMEOUT_MS = 10
SECONDS = float(os.environ.get("BENCH_BATCHING_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_BATCHING_ROUNDS", "3"))
WRK = shutil.which("wrk") or "/usr/bin/wrk"


# -- the model -------------------------------------------------------------------------
def mlp_weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (
            (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32),
            (rng.normal(size=(n_out,)) * 0.01).astype(np.float32),
        )
        for n_in, n_out in itertools.pairwise(LAYERS)
    ]


def mlp_onnx(path: Path, weights: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, current = [], [], "x"
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "y" if i == len(weights) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [f"g{i}" if out != "y" else out]))
        if out != "y":
            nodes.append(helper.make_node("Relu", [f"g{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", LAYERS[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", LAYERS[-1]])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def mlp_numpy(x: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    for i, (w, b) in enumerate(weights):
        x = x @ w + b
        if i < len(weights) - 1:
            x = np.maximum(x, 0)
    return x


LITSERVE_APP = """
import sys
import numpy as np, onnxruntime as ort, litserve as ls

class Api(ls.LitAPI):
    def setup(self, device):
        opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
    def decode_request(self, request):
        return np.asarray(request["inputs"], dtype=np.float32).reshape(-1, 256)
    def batch(self, inputs):
        return np.concatenate(inputs, axis=0)
    def predict(self, x):
        return self.session.run(None, {"x": x})[0]
    def unbatch(self, y):
        return [y[i : i + 1] for i in range(len(y))]
    def encode_response(self, y):
        return {"outputs": y.tolist()}

if __name__ == "__main__":  # LitServer spawns its workers
    api = Api(max_batch_size=int(sys.argv[3]), batch_timeout=float(sys.argv[4]))
    ls.LitServer(api, accelerator="cpu", workers_per_device=1).run(port=int(sys.argv[2]), generate_client_file=False)
"""


# -- wrk -------------------------------------------------------------------------------
@dataclass
class Run:
    rps: float
    p99_ms: float
    requests: int
    failed: int
    cpu_us: dict[str, float] = field(default_factory=dict)  # process role -> CPU microseconds per request


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def lua_script(folder: Path, name: str, body: bytes, headers: dict[str, str]) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body.decode()}]==]"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(url: str, script: Path, seconds: float, processes: dict[str, list[psutil.Process]]) -> Run:
    """One wrk run; CPU per request of ``processes`` (role -> processes) and of wrk itself."""
    before = {role: sum(_cpu(p) for p in procs) for role, procs in processes.items()}
    argv = [
        WRK,
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    after = {role: sum(_cpu(p) for p in procs) for role, procs in processes.items()}
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out.strip()[-300:]}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    ok = max(total - (int(non2xx.group(1)) if non2xx else 0), 0)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    run = Run(rps=ok / seconds, p99_ms=_ms(p99.group(1)) if p99 else float("nan"), requests=ok, failed=failed)
    served = max(ok, 1)
    for role in processes:
        run.cpu_us[role] = (after[role] - before[role]) / served * 1e6
    run.cpu_us["wrk"] = (usage.ru_utime + usage.ru_stime) / served * 1e6
    return run


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.NoSuchProcess:
        return 0.0


# -- the servers -----------------------------------------------------------------------
@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    processes: dict[str, list[psutil.Process]]
    script: Path | None = None
    runs: list[Run] = field(default_factory=list)


def _instance_of(plane: psutil.Process, service: str) -> psutil.Process:
    for child in plane.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if (
                "pai_jupyter.model_server.server" in " ".join(child.cmdline())
                and f"/{service}/" in child.cwd() + "/"
            ):
                return child
    raise RuntimeError(f"no instance process of {service}")


def _check_answer(target: Target, body: bytes, expected: np.ndarray) -> None:
    resp = requests.post(target.url, data=body, headers=target.headers, timeout=60)
    if resp.status_code != 200:
        raise RuntimeError(f"{target.name}: HTTP {resp.status_code}: {resp.text[:200]}")
    got = np.asarray(resp.json()["outputs"], dtype=np.float32).reshape(expected.shape)
    if not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
        raise RuntimeError(f"{target.name} answers differently from the numpy forward pass")


def run() -> list[dict]:
    from pai_jupyter.api.services import deploy
    from pai_jupyter.config import current_config
    from pai_jupyter.controlplane.runtime import read_runtime

    if not Path(WRK).exists():
        return [{"name": "batching", "value": "skipped: wrk not installed (apt-get install wrk)"}]
    base = isolate("pai-bench-batching-")
    scripts = Path(tempfile.mkdtemp(prefix="pai-bench-wrk-"))
    weights = mlp_weights()
    model = mlp_onnx(base / "model" / "model.onnx", weights)
    x = np.random.default_rng(1).normal(size=(1, LAYERS[0])).astype(np.float32)
    body = json.dumps({"inputs": x.tolist()}).encode()
    expected = mlp_numpy(x, weights)
    env_note = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    print(f"   machine: {env_note}; shared with other work, so figures are noisy", flush=True)

    peer: subprocess.Popen[bytes] | None = None
    rows: list[dict] = []
    try:
        batched = deploy("mlp-batched", model, instances=1, max_batch_size=BATCH, max_batch_timeout_ms=TIMEOUT_MS)
        plain = deploy("mlp-plain", model, instances=1)
        info = read_runtime(current_config().home_path)
        plane = psutil.Process(int(info["pid"]))  # type: ignore[index]
        targets = []
        for label, svc in (("batched", batched), ("unbatched", plain)):
            instance = _instance_of(plane, svc.name)
            headers = {"Authorization": svc.token(), "Content-Type": "application/json"}
            targets.append(
                Target(f"ours {label}", svc.endpoint, headers, {"gateway": [plane], "instance": [instance]})
            )
            port = instance.cmdline()[instance.cmdline().index("--port") + 1]
            url = f"http://127.0.0.1:{port}/predict"
            targets.append(
                Target(f"instance {label}", url, {"Content-Type": "application/json"}, {"instance": [instance]})
            )
        litserve_version = _litserve_version()
        if litserve_version is None:
            print("   LitServe: skipped: not installed (pip install litserve to include it)", flush=True)
        else:
            port = free_port()
            (base / "litserve_app.py").write_text(LITSERVE_APP)
            peer = subprocess.Popen(
                [
                    sys.executable,
                    str(base / "litserve_app.py"),
                    str(model),
                    str(port),
                    str(BATCH),
                    str(TIMEOUT_MS / 1000),
                ],
                cwd=base,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            wait_port(port, 120)
            url = f"http://127.0.0.1:{port}/predict"
            _wait_ok(url, body)
            lit = psutil.Process(peer.pid)
            targets.append(
                Target(
                    "LitServe batched",
                    url,
                    {"Content-Type": "application/json"},
                    {"server": [lit, *lit.children(recursive=True)]},
                )
            )
        for i, target in enumerate(targets):
            _check_answer(target, body, expected)
            target.script = lua_script(scripts, f"t{i}", body, target.headers)
            wrk(target.url, target.script, 2.0, {})  # warm-up, not counted
        for r in range(ROUNDS):
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for target in order:
                assert target.script is not None
                result = wrk(target.url, target.script, SECONDS, target.processes)
                target.runs.append(result)
                print(f"   round {r + 1} {target.name}: {_describe(result)}", flush=True)
        for svc in (batched, plain):
            seen = requests.get(f"{svc.endpoint}/stats", headers={"Authorization": svc.token()}, timeout=30).json()
            print(f"   {svc.name} instance: {seen['batching']}", flush=True)
        rows = _rows(targets, litserve_version, env_note)
        batched.delete()
        plain.delete()
    finally:
        if peer is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(peer.pid, 15)
            with contextlib.suppress(subprocess.TimeoutExpired):
                peer.wait(15)
        stop_server()
        shutil.rmtree(scripts, ignore_errors=True)
    return rows


def _wait_ok(url: str, body: bytes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10).ok:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} never answered 200")


def _litserve_version() -> str | None:
    try:
        from importlib.metadata import version

        __import__("litserve")
        return version("litserve")
    except Exception:
        return None


def _describe(r: Run) -> str:
    cpu = ", ".join(f"{k} {v:.0f} us" for k, v in r.cpu_us.items())
    return f"{r.rps:.0f} req/s, p99 {r.p99_ms:.1f} ms, {r.requests} ok, {r.failed} failed; CPU/request: {cpu}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(t: Target) -> dict:
    roles = t.runs[0].cpu_us.keys() if t.runs else []
    return {
        "rps_runs": [round(r.rps, 1) for r in t.runs],
        "p99_ms_runs": [round(r.p99_ms, 2) for r in t.runs],
        "failed": sum(r.failed for r in t.runs),
        "requests": sum(r.requests for r in t.runs),
        "cpu_us_per_request": {role: round(_median([r.cpu_us[role] for r in t.runs]), 1) for role in roles},
    }


def _rows(targets: list[Target], litserve_version: str | None, env_note: str) -> list[dict]:
    by = {t.name: t for t in targets}
    ours, plain = by["ours batched"], by["ours unbatched"]
    ours_rps, plain_rps = _median([r.rps for r in ours.runs]), _median([r.rps for r in plain.runs])
    ours_p99 = _median([r.p99_ms for r in ours.runs])
    common = {"connections": CONNECTIONS, "seconds": SECONDS, "rounds": ROUNDS, "machine": env_note}
    rows = [
        {
            "name": f"MLP 256-1024x3-10: batched vs unbatched ({CONNECTIONS} connections, wrk)",
            "value": ours_rps,
            "unit": "req/s",
            "baseline": plain_rps,
            "baseline_name": "unbatched",
            "ratio": ours_rps / plain_rps if plain_rps else None,
            "target": ">= 3x",
            "batched": _summary(ours),
            "unbatched": _summary(plain),
            "settings": {"max_batch_size": BATCH, "max_batch_timeout_ms": TIMEOUT_MS},
            **common,
        },
        {
            "name": "MLP batched: p99 latency",
            "value": ours_p99,
            "unit": "ms",
            "baseline": _median([r.p99_ms for r in plain.runs]),
            "baseline_name": "unbatched p99",
            "target": "<= 100 ms",
        },
    ]
    inst, inst_plain = by["instance batched"], by["instance unbatched"]
    inst_rps, inst_plain_rps = _median([r.rps for r in inst.runs]), _median([r.rps for r in inst_plain.runs])
    rows.append(
        {
            "name": "MLP on the instance alone (no gateway): batched vs unbatched",
            "value": inst_rps,
            "unit": "req/s",
            "baseline": inst_plain_rps,
            "baseline_name": "unbatched",
            "ratio": inst_rps / inst_plain_rps if inst_plain_rps else None,
            "target": ">= 3x",
            "batched": {**_summary(inst), "p99_ms": _median([r.p99_ms for r in inst.runs])},
            "unbatched": {**_summary(inst_plain), "p99_ms": _median([r.p99_ms for r in inst_plain.runs])},
        }
    )
    if "LitServe batched" in by:
        lit = by["LitServe batched"]
        lit_rps = _median([r.rps for r in lit.runs])
        rows.append(
            {
                "name": "MLP batched: ours (through the gateway) vs LitServe (direct), both batching",
                "value": ours_rps,
                "unit": "req/s",
                "baseline": lit_rps,
                "baseline_name": f"litserve {litserve_version}",
                "ratio": ours_rps / lit_rps if lit_rps else None,
                "target": "> 1x",
                "litserve": {
                    **_summary(lit),
                    "version": litserve_version,
                    "p99_ms": _median([r.p99_ms for r in lit.runs]),
                },
                "settings": {"max_batch_size": BATCH, "batch_timeout_s": TIMEOUT_MS / 1000},
                **common,
            }
        )
    else:
        rows.append({"name": "MLP batched: ours vs LitServe", "value": "skipped: litserve not installed"})
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import format_row

    for row in run():
        print(format_row(row))
