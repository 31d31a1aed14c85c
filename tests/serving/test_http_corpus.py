"""The predict path's HTTP corpus, raw sockets, against the gateway AND a model server called directly.

Request smuggling (the ``%0d%0a`` sub-path from issue 10, CL.TE, TE.CL, TE.TE
obfuscations, duplicate and conflicting lengths), control characters in
header values, unknown versions: each is refused with 400 (and the connection
closed). Chunked bodies are served. A head trickled byte by byte gets 408; one
connection over the cap gets 503. After the corpus, 1,000 ordinary requests
through the same servers (and the gateway's same pooled upstream connections)
each get their own answer: the model is linear, so an answer one behind
(a desynchronised keep-alive connection) differs from the expected one.

One control plane and one direct model server serve the whole module
(``PAI_SERVING_HEAD_TIMEOUT_S`` and ``PAI_SERVING_MAX_CONNECTIONS`` set low for
both, through their environment).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from benchmarks.loadgen import free_port, wait_port
from tests.serving import models

pytestmark = pytest.mark.slow

HEAD_TIMEOUT_S = 1.5
MAX_CONNECTIONS = 24
CRLF = "\r\n"


@dataclass
class Target:
    name: str
    port: int
    base: str  # path prefix: the predict path is base + "/predict" (gateway: the sub-path "/predict")
    auth: str  # header line(s) every request carries
    weights: tuple[np.ndarray, np.ndarray]
    live: object = None  # () -> the service's live figures (gateway only)
    log: Path | None = None  # the control plane's log (gateway only)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    from pai_jupyter.backends.local import LocalBackend
    from pai_jupyter.backends.registry import reset_backends
    from pai_jupyter.config import PaiConfig, set_current_config
    from tests.conftest import stop_control_plane
    from tests.serving.helpers import deploy

    tmp = tmp_path_factory.mktemp("corpus")
    model = models.onnx_linear(tmp / "m" / "model.onnx", seed=3)
    weights = models.onnx_weights(model)
    env = {
        "PAI_JUPYTER_HOME": str(tmp / "home"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "PAI_JUPYTER_BACKEND": "local",
        "PAI_SERVING_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "PAI_SERVING_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "PAI_SERVING_BODY_TIMEOUT_S": str(HEAD_TIMEOUT_S),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        reset_backends()
        set_current_config(None)
        backend = LocalBackend(PaiConfig())
        direct = None
        try:
            record = deploy(backend, model, name="corpus")
            token = backend.serving.token("corpus")
            url = urlparse(record.endpoint)
            port = free_port()
            argv = ["--processor", "onnx", "--port", str(port)]
            direct = subprocess.Popen(
                [sys.executable, "-m", "pai_jupyter.model_server.server", "--model", str(model), *argv],
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_port(port)
            yield {
                "gateway": Target(
                    "gateway",
                    int(url.port or 80),
                    url.path,
                    f"Authorization: {token}\r\n",
                    weights,
                    lambda: backend.serving.live("corpus"),
                    Path(env["PAI_JUPYTER_HOME"]) / "server.log",
                ),
                "direct": Target("direct", port, "", "", weights),
            }
        finally:
            if direct is not None:
                direct.terminate()
                direct.wait(10)
            try:
                backend.serving.delete("corpus")
            finally:
                backend.close()
                stop_control_plane(Path(env["PAI_JUPYTER_HOME"]))
                reset_backends()
                set_current_config(None)


def body_for(i: int) -> bytes:
    x = [0.0] * 64
    x[0], x[1] = float(i), float(i % 7)
    return json.dumps({"inputs": [x]}).encode()


def expected_for(t: Target, i: int) -> np.ndarray:
    w, b = t.weights
    x = np.zeros((1, 64), dtype=np.float32)
    x[0, 0], x[0, 1] = i, i % 7
    return x @ w + b


def read_response(sock: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One Content-Length-framed answer from ``sock`` (leftover bytes stay in ``buf``)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer; got {bytes(buf)[:200]!r}")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[: end + 4]
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return status, headers, body


def exchange(t: Target, raw: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes, bool]:
    """Send ``raw``, read one answer; also whether the server closed the connection after it."""
    with socket.create_connection(("127.0.0.1", t.port), timeout=timeout) as sock:
        sock.sendall(raw)
        buf = bytearray()
        status, headers, body = read_response(sock, buf)
        sock.settimeout(2.0)
        try:
            closed = not buf and sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return status, headers, body, closed


def head(t: Target, path: str = "/predict", version: str = "HTTP/1.1", method: str = "POST") -> str:
    return f"{method} {t.base}{path} {version}\r\nHost: x\r\n{t.auth}Content-Type: application/json\r\n"


def with_length(t: Target, extra: str = "", **kw: str) -> bytes:
    body = body_for(1)
    return (head(t, **kw) + extra + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


# name -> (raw request for a target, expected status)
SMUGGLED = "/predict%20HTTP/1.1%0d%0aHost:a%0d%0aContent-Length:0%0d%0a%0d%0aPOST%20/predict"
CORPUS = {
    "crlf-in-sub-path (issue 10)": (lambda t: with_length(t, path=SMUGGLED), 400),
    "encoded-NUL-in-path": (lambda t: with_length(t, path="/predict%00"), 400),
    "bare-LF-in-header-value": (lambda t: with_length(t, "X-Note: a\nPOST /predict HTTP/1.1\r\n"), 400),
    "bare-CR-in-header-value": (lambda t: with_length(t, "X-Note: a\rb\r\n"), 400),
    "NUL-in-header-value": (lambda t: with_length(t, "X-Note: a\x00b\r\n"), 400),
    "duplicate-equal-content-length": (lambda t: with_length(t, f"Content-Length: {len(body_for(1))}\r\n"), 400),
    "conflicting-content-length": (lambda t: with_length(t, "Content-Length: 2\r\n"), 400),
    "CL.TE": (
        lambda t: (head(t) + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX").encode(),
        400,
    ),
    "TE.CL": (
        lambda t: (
            head(t) + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"
        ).encode(),
        400,
    ),
    "TE: xchunked": (lambda t: (head(t) + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n").encode(), 400),
    "TE: chunked, identity": (
        lambda t: (head(t) + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n").encode(),
        400,
    ),
    "TE: gzip, chunked": (lambda t: (head(t) + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").encode(), 400),
    "two TE headers": (
        lambda t: (head(t) + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode(),
        400,
    ),
    "TE chunked + TE identity": (
        lambda t: (
            head(t) + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
        ).encode(),
        400,
    ),
    "space before the colon": (lambda t: (head(t) + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n").encode(), 400),
    "TE as a folded line": (
        lambda t: (head(t) + "X-Note: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode(),
        400,
    ),
    "HTTP/1.9": (lambda t: with_length(t, version="HTTP/1.9"), 400),
    "raw non-ASCII in the path": (lambda t: with_length(t, path="/predict\xe9"), 400),
    "Upgrade: h2c": (lambda t: with_length(t, "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"), 400),
}


def _chunked(t: Target, te: str, i: int) -> bytes:
    body = body_for(i)
    mid = len(body) // 2
    chunks = f"{mid:x}\r\n".encode() + body[:mid] + f"\r\n{len(body) - mid:x};ext=1\r\n".encode() + body[mid:]
    return (head(t) + f"Transfer-Encoding:{te}\r\n\r\n").encode() + chunks + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize("which", ["gateway", "direct"])
@pytest.mark.parametrize("case", list(CORPUS))
def test_malformed_and_smuggling_requests_are_refused(targets: dict[str, Target], which: str, case: str) -> None:
    t = targets[which]
    build, status = CORPUS[case]
    before = t.live()["versions"]["1"]["total_errors"] if t.live else None
    got, headers, body, closed = exchange(t, build(t))
    assert got == status, body
    assert "x-pai-version" not in headers  # refused in front of the model, never forwarded
    assert json.loads(body)["error"]
    assert closed, "the connection must close after a framing refusal"
    if t.live:  # it carried the service's token: the refusal is the version's error (rollout gates see it)
        assert t.live()["versions"]["1"]["total_errors"] == before + 1


@pytest.mark.parametrize("which", ["gateway", "direct"])
@pytest.mark.parametrize("te", [" chunked", "\tchunked", "chunked", " CHUNKED"])
def test_chunked_bodies_are_served(targets: dict[str, Target], which: str, te: str) -> None:
    t = targets[which]
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as sock:
        buf = bytearray()
        for i in (11, 12):  # two on one connection: the framing after a chunked body is right
            sock.sendall(_chunked(t, te, i))
            status, _, body = read_response(sock, buf)
            assert status == 200, body
            np.testing.assert_allclose(json.loads(body)["outputs"], expected_for(t, i), rtol=1e-5)


@pytest.mark.parametrize("which", ["gateway", "direct"])
def test_unknown_major_version_and_absurd_eas_date(targets: dict[str, Target], which: str) -> None:
    t = targets[which]
    got, _, body, closed = exchange(t, with_length(t, version="HTTP/2.0"))
    assert got == 505 and closed, body
    if which == "gateway":
        # A signed request whose Date overflows the date parser: a clear 401, no traceback, no token needed.
        raw = head(t).replace(t.auth, "") + "Authorization: EAS abc\r\n"
        raw += "Date: Mon, 01 Jan 9999999999999999999999 00:00:00 GMT\r\nContent-Length: 2\r\n\r\n{}"
        got, _, body, closed = exchange(t, raw.encode())
        assert got == 401 and "Date" in json.loads(body)["error"] and not closed
        # 300 more on one connection: each answered, and the log does not grow by a traceback each
        assert t.log is not None
        size = t.log.stat().st_size
        with socket.create_connection(("127.0.0.1", t.port), timeout=10) as sock:
            sock.sendall(raw.encode() * 300)
            buf = bytearray()
            assert all(read_response(sock, buf)[0] == 401 for _ in range(300))
        grown = t.log.read_bytes()[size:]
        assert b"Traceback" not in grown and len(grown) < 4096, grown[-2000:]


def test_encoded_sub_path_reaches_the_instance_still_encoded(targets: dict[str, Target]) -> None:
    """A percent-encoded non-latin-1 sub-path (was a 500, uncounted) goes upstream exactly as received."""
    t = targets["gateway"]
    got, headers, body, _ = exchange(t, with_length(t, path="/%E2%82%AC?q=%20"))
    assert got == 404 and headers["x-pai-version"] == "1"  # the instance's own answer
    assert "/%E2%82%AC" in json.loads(body)["error"]


@pytest.mark.parametrize("which", ["gateway", "direct"])
def test_slow_head_gets_408(targets: dict[str, Target], which: str) -> None:
    t = targets[which]
    raw = with_length(t)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as sock:
        sent = 0
        try:
            while sent < 40 and time.monotonic() - started < HEAD_TIMEOUT_S * 4:
                sock.sendall(raw[sent : sent + 1])
                sent += 1
                time.sleep(HEAD_TIMEOUT_S / 6)
        except OSError:
            pass  # closed by the server under our feet
        sock.settimeout(HEAD_TIMEOUT_S * 3)
        status, _, body = read_response(sock, bytearray())
        assert status == 408, body
        assert sock.recv(1) == b""
    assert time.monotonic() - started < HEAD_TIMEOUT_S * 3


@pytest.mark.parametrize("which", ["gateway", "direct"])
def test_slow_body_gets_408(targets: dict[str, Target], which: str) -> None:
    t = targets[which]
    raw = with_length(t)
    cut = raw.index(b"\r\n\r\n") + 4
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as sock:
        sock.sendall(raw[:cut])
        try:
            for i in range(cut, len(raw)):
                if time.monotonic() - started > HEAD_TIMEOUT_S * 4:
                    break
                sock.sendall(raw[i : i + 1])
                time.sleep(HEAD_TIMEOUT_S / 6)
        except OSError:
            pass  # closed by the server under our feet
        sock.settimeout(HEAD_TIMEOUT_S * 3)
        status, _, body = read_response(sock, bytearray())
        assert status == 408 and b"body" in body, body
    assert time.monotonic() - started < HEAD_TIMEOUT_S * 3


@pytest.mark.parametrize("which", ["gateway", "direct"])
def test_connection_cap_answers_503(targets: dict[str, Target], which: str) -> None:
    t = targets[which]
    time.sleep(0.3)  # the corpus's own connections are closed by now
    held = [socket.create_connection(("127.0.0.1", t.port), timeout=5) for _ in range(MAX_CONNECTIONS + 5)]
    try:
        time.sleep(0.3)  # well inside the head deadline: the admitted ones are still open and silent
        refused, open_ = [], 0
        for sock in held:
            sock.setblocking(False)
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                open_ += 1
                continue
            refused.append(data)
        assert refused, f"{open_} connections open and none refused"
        assert all(d.startswith(b"HTTP/1.1 503") and b"too many open connections" in d for d in refused)
        assert MAX_CONNECTIONS - 2 <= open_ <= MAX_CONNECTIONS
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    got, _, body, _ = exchange(t, with_length(t))
    assert got == 200, body


@pytest.mark.parametrize("which", ["gateway", "direct"])
def test_after_the_corpus_every_request_gets_its_own_answer(targets: dict[str, Target], which: str) -> None:
    """1,000 ordinary requests on 8 keep-alive connections (8 pooled upstream ones at the gateway)."""
    t = targets[which]
    # The smuggling attempt once more right before, on the gateway's pooled upstream connections.
    exchange(t, CORPUS["crlf-in-sub-path (issue 10)"][0](t))
    wrong: list[tuple[int, int, bytes]] = []

    def client(first: int) -> None:
        with socket.create_connection(("127.0.0.1", t.port), timeout=30) as sock:
            buf = bytearray()
            for i in range(first, first + 125):
                body = body_for(i)
                sock.sendall((head(t) + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
                status, _, answer = read_response(sock, buf)
                if status != 200 or not np.allclose(json.loads(answer)["outputs"], expected_for(t, i), rtol=1e-5):
                    wrong.append((i, status, answer[:120]))

    threads = [threading.Thread(target=client, args=(k * 125,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads)
    assert wrong == []
