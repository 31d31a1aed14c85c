"""Batching as users meet it: deployed from the notebook and the terminal, called over real HTTP.

Concurrent requests through the gateway carry inputs that identify them (every
value is the request's number), so an answer given to the wrong request, or
split at the wrong row, shows. The instance's ``/stats`` (reached through the
gateway like any sub-path) says how many model calls served how many requests.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import Service
from tests.conftest import run_cli as pai

pytestmark = pytest.mark.slow

SENTINEL = -1000.0  # the module below refuses inputs below this (a request that fails by itself)


@pytest.fixture
def ip(serving_env: Path, workdir: Path) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    yield shell
    try:
        Service("mlp-batched").delete()
    except Exception:
        pass
    shell.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


def affine_torchscript(folder: Path) -> Path:
    """forward(x) = 2x + 1 on [N, 8] float32; raises on any value below SENTINEL."""
    import torch

    class Affine(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if bool((x < -1000.0).any()):  # SENTINEL (TorchScript takes no globals)
                raise ValueError("input below the sentinel")
            return x * 2.0 + 1.0

    folder.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(Affine()), str(folder / "model.pt"))
    (folder / "example.json").write_text(json.dumps({"inputs": [[0.0] * 8]}))
    return folder


def concurrently(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run ``calls`` at the same moment, one thread each; their responses in order."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def go(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except requests.RequestException as exc:
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def poster(url: str, token: str, body: bytes) -> Callable[[], requests.Response]:
    headers = {"Authorization": token, "Content-Type": "application/json"}
    return lambda: requests.post(url, data=body, headers=headers, timeout=60)


def stats(endpoint: str, token: str) -> dict[str, Any]:
    resp = requests.get(f"{endpoint}/stats", headers={"Authorization": token}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["batching"]


def test_batched_deploy_from_the_notebook_answers_each_request_its_own(
    ip: InteractiveShell, workdir: Path, onnx_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import models

    shutil.copytree(onnx_model.parent, workdir / "mlp")
    w, b = models.onnx_weights(onnx_model)

    with pytest.raises(UsageError) as bad:
        ip.run_line_magic("pai_deploy", "mlp-batched --model mlp --max-batch-timeout 1h")
    assert "'1h' is not a number of milliseconds" in str(bad.value) and "\n" not in str(bad.value)
    with pytest.raises(UsageError) as bad:
        ip.run_line_magic("pai_deploy", "mlp-batched --model mlp --max-batch-size 4096")
    assert "--max-batch-size must be a whole number from 2 to 1024, got 4096" in str(bad.value)
    capsys.readouterr()

    ip.run_line_magic("pai_deploy", "mlp-batched --model mlp --max-batch-size 16 --max-batch-timeout 200")
    assert "Deployed mlp-batched v1 (onnx)" in capsys.readouterr().out
    svc = ip.user_ns["_pai_service"]
    record = svc.refresh()
    assert (record.spec.max_batch_size, record.spec.max_batch_timeout_ms) == (16, 200)
    ip.run_line_magic("pai_services", "mlp-batched")
    assert "batching: up to 16 requests per model call, waiting at most 200 ms" in capsys.readouterr().out

    token = svc.token()
    # request i sends 1 + i % 3 rows, every value i: its answer is its own only if rows were split right
    inputs = [np.full((1 + i % 3, 64), float(i), dtype=np.float32) for i in range(12)]
    bodies = [json.dumps({"inputs": x.tolist()}).encode() for x in inputs]
    responses = concurrently([poster(svc.endpoint, token, body) for body in bodies])
    for x, resp in zip(inputs, responses, strict=True):
        assert resp.status_code == 200, resp.text
        np.testing.assert_allclose(np.asarray(resp.json()["outputs"]), x @ w + b, rtol=1e-4, atol=1e-3)
    seen = stats(svc.endpoint, token)
    assert seen["requests"] >= 12 and seen["batches"] < seen["requests"], seen  # some calls served several


def test_batched_deploy_from_the_terminal_fails_only_the_bad_requests(serving_env: Path, tmp_path: Path) -> None:
    model = affine_torchscript(tmp_path / "affine")
    bad = pai("deploy", "affine", "--model", str(model), "--max-batch-size", "1", check=False)
    assert bad.returncode == 2 and "--max-batch-size must be a whole number from 2 to 1024" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = pai("deploy", "affine", "--model", str(model), "--max-batch-timeout", "soon", check=False)
    assert bad.returncode == 2 and "is not a number of milliseconds" in bad.stderr

    out = pai(
        "deploy",
        "affine",
        "--model",
        str(model),
        "--max-batch-size",
        "32",
        "--max-batch-timeout",
        "300ms",
        "--json",
    ).stdout
    record = json.loads(out)
    assert (record["spec"]["max_batch_size"], record["spec"]["max_batch_timeout_ms"]) == (32, 300)
    token = pai("services", "token", "affine").stdout.strip()
    endpoint = record["endpoint"]

    good = {i: np.full((1 + i % 2, 8), float(i), dtype=np.float32) for i in range(14)}
    bodies: dict[int, bytes] = {i: json.dumps({"inputs": x.tolist()}).encode() for i, x in good.items()}
    bodies[14] = json.dumps({"inputs": [[SENTINEL * 2] * 8]}).encode()  # passes validation, fails in the model
    bodies[15] = json.dumps({"inputs": [["not", "a", "number"]]}).encode()  # refused before batching
    bodies[16] = b'{"inputs": '  # not JSON
    responses = concurrently([poster(endpoint, token, bodies[i]) for i in sorted(bodies)])

    for i, x in good.items():
        assert responses[i].status_code == 200, responses[i].text
        assert np.asarray(responses[i].json()["outputs"]).tolist() == (x * 2 + 1).tolist()
    # the module's own error for this request alone, as it would be unbatched
    assert responses[14].status_code == 400, responses[14].text
    assert responses[14].json()["error"] == "ValueError: input below the sentinel"
    assert responses[15].status_code == 400 and "not a numeric array" in responses[15].json()["error"]
    assert responses[16].status_code == 400 and "not JSON" in responses[16].json()["error"]
    seen = stats(endpoint, token)
    assert seen["max_batch_size"] == 32 and seen["requests"] >= 15 and seen["batches"] < seen["requests"], seen

    # The CLI shows it; a second version keeps the service's batching.
    assert "batching: up to 32 requests" in pai("services", "show", "affine").stdout
    out = pai(
        "deploy", "affine", "--model", str(model), "--plan", "100", "--bake", "0", "--min-requests", "0", "--json"
    )
    assert json.loads(out.stdout)["spec"]["max_batch_size"] == 32


def test_pipelined_requests_on_one_connection_are_answered_in_order(onnx_model: Path, tmp_path: Path) -> None:
    """A batched answer arrives later than it was asked for; the next request on the connection waits for it."""
    import socket
    import subprocess
    import sys

    import models

    from tests.conftest import python_env, wait_until

    w, b = models.onnx_weights(onnx_model)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "pai_jupyter.model_server.server", "--model", str(onnx_model)]
    argv += ["--processor", "onnx", "--port", str(port), "--max-batch-size", "8", "--max-batch-timeout", "50"]
    server = subprocess.Popen(argv, env=python_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), 60, "the model server's port")
        inputs = [np.full((1, 64), float(i), dtype=np.float32) for i in range(4)]
        wire = b""
        for i, x in enumerate(inputs):
            body = json.dumps({"inputs": x.tolist()}).encode() if i != 2 else b"{oops"
            wire += b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            wire += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(wire)  # four requests in one write, the third not JSON
            answers = read_responses(conn, 4)
        assert [status for status, _ in answers] == [200, 200, 400, 200]
        for i in (0, 1, 3):
            got = np.asarray(json.loads(answers[i][1])["outputs"])
            np.testing.assert_allclose(got, inputs[i] @ w + b, rtol=1e-4, atol=1e-3)
    finally:
        server.terminate()
        server.wait(30)


def read_responses(conn: Any, count: int) -> list[tuple[int, bytes]]:
    """``count`` HTTP/1.1 responses framed by Content-Length, in the order they arrive."""
    buf, out = b"", []
    while len(out) < count:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1").split("\r\n")
            length = next(int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:"))
            if len(buf) >= head_end + 4 + length:
                out.append((int(head[0].split()[1]), buf[head_end + 4 : head_end + 4 + length]))
                buf = buf[head_end + 4 + length :]
                continue
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {len(out)} answers"
        buf += chunk
    return out


def port_open(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
