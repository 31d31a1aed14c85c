"""A minimal HTTP/1.1 server for model instances (asyncio protocol, no framework).

An instance answers tiny JSON requests as fast as the model allows; a web
framework costs more per request than a small ONNX model does, and importing
one adds a third of a second to every cold start. This server speaks exactly
what the gateway and plain HTTP clients send: requests framed by
``Content-Length`` (a chunked request body is refused with 411), keep-alive
(HTTP/1.1 default, ``Connection: close`` honoured), pipelining, and answers
with ``Content-Length``. Handlers are synchronous functions
``(method, path, query, headers, body) -> (status, content_type, body)``
run on the event loop thread; a handler may instead return an awaitable of
that tuple (a batched prediction, ``model_server.batching``): the answer is written
when it resolves, and later requests on the same connection wait for it, so
answers keep their order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from http import HTTPStatus

log = logging.getLogger(__name__)

Answer = tuple[int, str, bytes]
Handler = Callable[[str, str, str, dict[str, str], bytes], Answer | Awaitable[Answer]]
MAX_HEAD = 64 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _response(status: int, ctype: str, body: bytes, close: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode("latin-1") + body


class _Protocol(asyncio.Protocol):
    def __init__(self, handler: Handler, max_body: int) -> None:
        self.handler = handler
        self.max_body = max_body
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: asyncio.Future[Answer] | None = None  # an answer still being computed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _fail(self, status: int, message: str) -> None:
        if self.transport is not None:
            body = json.dumps({"error": message, "hint": None}).encode()
            self.transport.write(_response(status, "application/json", body, close=True))
            self.transport.close()
        self.buf.clear()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.pending is None:
            self._process()

    def _answered(self, future: asyncio.Future[Answer], close: bool) -> None:
        self.pending = None
        if self.transport is None:
            return
        if future.cancelled():  # the server is stopping
            self.transport.close()
            return
        try:
            status, ctype, payload = future.result()
        except Exception:
            log.exception("handler failed")
            status, ctype, payload = 500, "application/json", b'{"error": "internal error", "hint": null}'
        self.transport.write(_response(status, ctype, payload, close))
        if close:
            self.transport.close()
            return
        self._process()

    def _process(self) -> None:
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail(431, "request head too large")
                return
            try:
                lines = self.buf[:end].decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._fail(400, "malformed request")
                return
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._fail(411, "send the body with a Content-Length")
                return
            if length > self.max_body or length < 0:
                self._fail(413, "request body too large")
                return
            start = end + 4
            if len(self.buf) < start + length:
                if headers.get("expect", "").lower() == "100-continue" and len(self.buf) == start:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    headers.pop("expect")
                return  # wait for the rest of the body
            body = bytes(self.buf[start : start + length])
            del self.buf[: start + length]
            conn = headers.get("connection", "").lower()
            close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
            path, _, query = target.partition("?")
            try:
                answer = self.handler(method, path, query, headers, body)
                if not isinstance(answer, tuple):  # computed later: answer then, keep the order
                    self.pending = asyncio.ensure_future(answer)
                    self.pending.add_done_callback(lambda f, close=close: self._answered(f, close))
                    return
                status, ctype, payload = answer
            except Exception:
                log.exception("handler failed on %s %s", method, path)
                status, ctype, payload = 500, "application/json", b'{"error": "internal error", "hint": null}'
            self.transport.write(_response(status, ctype, payload, close))
            if close:
                self.transport.close()
                return


async def serve_forever(handler: Handler, host: str, port: int, max_body: int = 256 * 2**20) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(handler, max_body), host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
