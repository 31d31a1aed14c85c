"""The gateway's own HTTP/1.1 listener: framing, keep-alive, pipelining, 100-continue, early 413, 400.

The framing tests run a real ``GatewayListener`` on a real socket in this
process, in front of a ``Gateway`` whose service has no version taking traffic
(so admitted requests get the core's 503, refused ones 401/403/404/413); the
last test deploys a real model and pipelines predictions through the endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest

from pai_jupyter.controlplane.serving.gateway import Gateway, GatewayConfig, ServiceRoute
from pai_jupyter.controlplane.serving.gateway_listener import GatewayListener

TOKEN = "secret-token"
Exchange = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Gateway], Awaitable[None]]


def run_against_listener(exchange: Exchange) -> Gateway:
    events: list[tuple[object, ...]] = []
    gateway = Gateway(GatewayConfig(auth_event_every_s=0), lambda *e: events.append(e))
    gateway.services["svc"] = ServiceRoute("svc", TOKEN, max_body_bytes=100)

    async def main() -> None:
        listener = GatewayListener(gateway, "127.0.0.1", 0)
        await listener.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            try:
                await asyncio.wait_for(exchange(reader, writer, gateway), 10)
            finally:
                writer.close()
        finally:
            await listener.close()  # the gateway holds no connection of its own

    asyncio.run(main())
    return gateway


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def request(path: str = "/api/predict/svc", body: bytes = b"{}", token: str = TOKEN, extra: str = "") -> bytes:
    auth = f"Authorization: {token}\r\n" if token else ""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def test_keep_alive_and_pipelining_answer_in_order() -> None:
    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gw: Gateway) -> None:
        # One write carrying four requests: admitted, wrong token, unknown service, no token.
        writer.write(request() + request(token="nope") + request("/api/predict/other") + request(token=""))
        statuses = []
        for _ in range(4):
            status, headers, body = await read_response(reader)
            assert headers["content-type"].startswith("application/json")
            assert "error" in json.loads(body)
            statuses.append(status)
        assert statuses == [503, 403, 404, 401]
        # The connection is still open for the next request (keep-alive).
        writer.write(request())
        assert (await read_response(reader))[0] == 503
        # Connection: close is honoured after the answer.
        writer.write(request(extra="Connection: close\r\n"))
        status, headers, _ = await read_response(reader)
        assert status == 503 and headers["connection"] == "close"
        assert await reader.read() == b""

    gw = run_against_listener(exchange)
    assert gw.services["svc"].auth_failures == {"wrong token": 1, "missing token": 1}
    assert gw.unknown_service_requests == 1


def test_expect_continue_and_early_413() -> None:
    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gw: Gateway) -> None:
        # Expect: 100-continue gets the interim answer once the head is admitted, then the final one.
        body = b'{"inputs": [1]}'
        head = request(body=body, extra="Expect: 100-continue\r\n")[: -len(body)]
        writer.write(head)
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        assert (await read_response(reader))[0] == 503
        # A Content-Length over the service's limit is refused before any body byte is sent...
        big = b"x" * 5000
        writer.write(request(body=big)[: -len(big)])
        status, _, payload = await read_response(reader)
        assert status == 413 and b"5000 bytes" in payload
        # ...and the body that follows is discarded, the connection kept.
        writer.write(big + request())
        assert (await read_response(reader))[0] == 503

    run_against_listener(exchange)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /api/predict/svc HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /api/predict/svc SPDY/3\r\n\r\n", 400),
        (b"POST /api/predict/svc HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
        (b"POST /api/predict/svc HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /api/predict/svc HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /api/v1/health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 404),
    ],
)
def test_malformed_requests_are_refused(raw: bytes, status: int) -> None:
    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gw: Gateway) -> None:
        writer.write(raw)
        got, headers, body = await read_response(reader)
        assert got == status and "error" in json.loads(body)
        if status != 404:
            assert headers["connection"] == "close"
            assert await reader.read() == b""

    run_against_listener(exchange)


@pytest.mark.slow
def test_endpoint_is_the_listener_and_pipelined_predictions(backend, onnx_model: Path) -> None:
    import socket

    from tests.serving.helpers import deploy

    record = deploy(backend, onnx_model)
    token = backend.serving.token("svc")
    url = urlparse(record.endpoint)
    assert url.port != urlparse(backend.client.base_url).port
    body = json.dumps({"inputs": [[0.5] * 64]}).encode()
    one = request(url.path, body, token)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(one * 3 + request(url.path + "@v1", body, token, extra="Connection: close\r\n"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    answers = data.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200"] * 4
    assert all(b"X-PAI-Version: 1\r\n" in a and b"Content-Length: " in a for a in answers)
    # The control plane's port answers no predictions: its token check has no exception for them (issue 9).
    import requests

    old = f"{backend.client.base_url}{url.path}"
    resp = requests.post(old, data=body, headers={"Authorization": token}, timeout=10)
    assert resp.status_code == 401 and "X-PAI-Version" not in resp.headers


def test_pipelined_requests_pause_reading_while_one_is_served() -> None:
    """Tiny pipelined requests count against the buffer too: reading pauses, so memory stays bounded."""
    from pai_jupyter.model_server.http1 import PAUSE_AT, Http1Server, Limits

    class Never(Http1Server):
        def admit(self, req):  # type: ignore[no-untyped-def]
            return 100

        def handle(self, req):  # type: ignore[no-untyped-def]
            return asyncio.get_running_loop().create_future()  # never answered: the first one stays busy

    class Transport(asyncio.Transport):
        paused = 0

        def write(self, data) -> None:  # type: ignore[no-untyped-def]
            pass

        def is_closing(self) -> bool:
            return False

        def pause_reading(self) -> None:
            self.paused += 1

    async def main() -> None:
        conn = Never(set(), Limits())
        transport = Transport()
        conn.connection_made(transport)
        one = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
        for _ in range(2 * PAUSE_AT // (len(one) * 1000) + 1):
            conn.data_received(one * 1000)
        assert transport.paused == 1 and conn.busy
        conn.connection_lost(None)

    asyncio.run(main())
