"""The gateway's own HTTP/1.1 listener: a raw asyncio Protocol in front of ``Gateway``'s core.

aiohttp's request machinery costs the gateway about as much CPU per request as
the model instance spends answering it; this listener parses only what the
predict path needs and hands a ``GatewayRequest`` to ``Gateway.admit`` /
``Gateway.serve``. It speaks:

- requests framed by ``Content-Length`` (a ``Transfer-Encoding`` body is refused
  with 411); a head over ``MAX_HEAD`` bytes gets 431, a malformed one 400,
  both followed by a close;
- keep-alive (HTTP/1.1 default; ``Connection: close`` and HTTP/1.0 honoured),
  one request at a time per connection, pipelined requests answered in order;
- ``Expect: 100-continue``: ``100 Continue`` once the head is admitted, else the
  refusal at once (and the connection closed, the body never being sent);
- the early 413: a Content-Length over the service's limit is refused before a
  body byte is read; the body that follows is discarded and the connection kept;
- answers with ``Content-Type``, ``Content-Length`` and, from an instance,
  ``X-PAI-Version``. Idle keep-alive connections close after ``IDLE_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus

from multidict import CIMultiDict

from .gateway import PREFIX, Gateway, GatewayRequest, Reply, ServiceRoute

log = logging.getLogger(__name__)
MAX_HEAD = 64 * 1024
IDLE_TIMEOUT_S = 75.0
PAUSE_AT = 1 << 20  # stop reading while a request is served and this much is buffered
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_JSON = "application/json; charset=utf-8"


def _encode(reply: Reply, close: bool) -> bytes:
    status, headers, body = reply
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    head.extend(f"{k}: {v}" for k, v in headers.items())
    head.append(f"Content-Length: {len(body)}")
    if close:
        head.append("Connection: close")
    head.append("\r\n")
    return "\r\n".join(head).encode("latin-1") + body


def _error(status: int, message: str, hint: str | None = None) -> Reply:
    return status, {"Content-Type": _JSON}, json.dumps({"error": message, "hint": hint}).encode()


class _Connection(asyncio.Protocol):
    def __init__(self, listener: GatewayListener) -> None:
        self.listener = listener
        self.gateway = listener.gateway
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Future[None] | None = None
        self.busy = False  # a request is being served; later ones wait in ``buf``
        self.paused = False
        self.discard = 0  # body bytes of a refused request still to drop
        self.last_active = time.monotonic()
        self.idle_handle: asyncio.TimerHandle | None = None
        # the request whose head is parsed and whose body is awaited
        self.pending: tuple[GatewayRequest, ServiceRoute, int, bool] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.listener.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.listener.connections.discard(self)
        if self.idle_handle is not None:
            self.idle_handle.cancel()
            self.idle_handle = None

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.discard:
            dropped = min(self.discard, len(data))
            self.discard -= dropped
            data = data[dropped:]
        self.buf += data
        if not self.busy:
            self._advance()
        elif len(self.buf) > PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- framing ------------------------------------------------------------------------
    def _advance(self) -> None:
        """Take requests from ``buf`` until one is being served or more bytes are needed."""
        while self.transport is not None and not self.busy:
            if self.discard:
                dropped = min(self.discard, len(self.buf))
                del self.buf[:dropped]
                self.discard -= dropped
                if self.discard:
                    return
            if self.pending is None and not self._parse_head():
                return
            if self.pending is None:
                continue  # answered without a body (refusal); look at the next request
            req, route, length, close = self.pending
            if len(self.buf) < length:
                return
            req.body = bytes(self.buf[:length])
            del self.buf[:length]
            self.pending = None
            self.busy = True
            self.task = asyncio.ensure_future(self._serve(route, req, close))

    def _parse_head(self) -> bool:
        """Parse one head from ``buf``; False when more bytes are needed or the connection is done."""
        while self.buf[:2] == b"\r\n":
            del self.buf[:2]  # tolerate stray CRLFs between requests
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self._fail(431, "request head is over 64 KiB")
            return False
        if end > MAX_HEAD:
            self._fail(431, "request head is over 64 KiB")
            return False
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            if not version.startswith("HTTP/1.") or not target.startswith("/") or not method.isalpha():
                raise ValueError(lines[0])
            headers: CIMultiDict[str] = CIMultiDict()
            for line in lines[1:]:
                name, colon, value = line.partition(":")
                if not colon or not name or name != name.strip():
                    raise ValueError(line)
                headers.add(name, value.strip())
            raw_length = headers.get("Content-Length")
            length = int(raw_length) if raw_length is not None else 0
            if length < 0 or (raw_length is not None and not raw_length.strip().isdigit()):
                raise ValueError(raw_length)
        except ValueError:
            self._fail(400, "malformed request", "send HTTP/1.1 with a Content-Length body")
            return False
        if "Transfer-Encoding" in headers:
            self._fail(411, "send the body with a Content-Length", "chunked request bodies are not accepted")
            return False
        conn = headers.get("Connection", "").lower()
        close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
        expect = headers.get("Expect", "").lower() == "100-continue"
        req = GatewayRequest(method, target, headers)
        if not target.startswith(PREFIX):
            reply: Reply | ServiceRoute = _error(404, f"no route for {target.split('?', 1)[0]!r}", "use " + PREFIX)
        else:
            reply = self.gateway.admit(req, length)
        if not isinstance(reply, ServiceRoute):
            if expect and length:
                close = True  # the client holds the body back; do not guess whether it will send it
            else:
                self.discard = length
            self._write(reply, close)
            return not close
        if expect and len(self.buf) < length:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]
        self.pending = (req, reply, length, close)
        return True

    async def _serve(self, route: ServiceRoute, req: GatewayRequest, close: bool) -> None:
        try:
            reply = await self.gateway.serve(route, req)
        except Exception:
            log.exception("gateway failed on %s %s", req.method, req.raw_path)
            reply = _error(500, "internal gateway error", "see the control plane's log")
        self._write(reply, close)
        self.busy = False
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if self.buf and not close:
            self._advance()

    def _write(self, reply: Reply, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_encode(reply, close))
        self.last_active = time.monotonic()
        if close:
            self.transport.close()

    def _fail(self, status: int, message: str, hint: str | None = None) -> None:
        self.buf.clear()
        self._write(_error(status, message, hint), close=True)

    # -- idle keep-alive ----------------------------------------------------------------
    def _arm_idle(self) -> None:
        loop = asyncio.get_running_loop()
        self.idle_handle = loop.call_at(self.last_active + IDLE_TIMEOUT_S, self._idle_check)

    def _idle_check(self) -> None:
        self.idle_handle = None
        if self.transport is None:
            return
        if not self.busy and time.monotonic() - self.last_active >= IDLE_TIMEOUT_S:
            self.transport.close()
            return
        self._arm_idle()


class GatewayListener:
    """Serves ``/api/predict/...`` for ``gateway`` on ``host:port`` (0: a free port)."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host, self.port = host, port
        self.connections: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, backlog=1024, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("serving gateway listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None
