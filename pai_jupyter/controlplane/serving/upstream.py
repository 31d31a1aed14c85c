"""A lean HTTP/1.1 client for gateway -> instance hops: keep-alive connections per instance.

The gateway forwards every prediction over one of these; a general-purpose
client (aiohttp's) spends more CPU per request than the tiny model servers do
answering it, and on a small machine that CPU is taken from the instances.
This one writes the request in one buffer and parses the answer with llhttp
(``httptools``) in an asyncio Protocol: status, Content-Type, and a body framed
by Content-Length, chunked, or read to close. It refuses to put a control
character on the request line or in a header (the line would end there and
smuggle a second request), and a connection that delivers bytes nobody asked
for is dropped, never reused.

Connections are reused (LIFO, so the warmest one goes first). A request that
fails on a reused connection before any byte of the answer arrived is retried
once on a fresh one (the instance closed an idle keep-alive connection); any
other failure raises ``UpstreamError`` for the gateway to route around.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections import deque
from collections.abc import Mapping
from typing import Any

import httptools

if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _timeout(delay: float) -> Any:
        task = asyncio.current_task()
        handle = asyncio.get_running_loop().call_later(delay, task.cancel) if task else None
        try:
            yield
        except asyncio.CancelledError:
            raise asyncio.TimeoutError from None
        finally:
            if handle:
                handle.cancel()


MAX_IDLE = 64
MAX_HEADER_BYTES = 64 * 1024
# What must never reach a request line or a header: it would end the line and start another.
_LINE_BREAKERS = re.compile(r"[\x00-\x1f\x7f]")


class UpstreamError(Exception):
    """The instance could not be reached or broke the connection."""


class _Stale(Exception):
    pass


class _Conn(asyncio.Protocol):
    """One keep-alive connection; answers are parsed by llhttp (``httptools``) as they arrive.

    A byte that arrives when no request is outstanding (an answer nobody asked
    for: a desynchronised instance) marks the connection broken, so it is never
    reused and no caller can receive another's answer.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, str, bytes]] | None = None
        self.broken = False
        self.head_only = False  # a HEAD request: the answer has no body whatever its Content-Length says
        self._reset()

    def _reset(self) -> None:
        self.got_bytes = False
        self.headers_done = False
        self.ctype = "application/octet-stream"
        self.framed = False  # Content-Length or chunked: the end of the body is known without EOF
        self.close_after = False
        self.body: list[bytes] = []
        self.head_size = 0

    def start(self, head_only: bool) -> asyncio.Future[tuple[int, str, bytes]]:
        self._reset()
        self.head_only = head_only
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    @property
    def reusable(self) -> bool:
        return not (self.broken or self.close_after or self.transport is None or self.transport.is_closing())

    def close(self) -> None:
        self.broken = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.broken = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if not self.got_bytes:
            waiter.set_exception(_Stale(str(exc) if exc else "the instance closed the connection"))
        elif self.headers_done and not self.framed:
            waiter.set_result((self.parser.get_status_code(), self.ctype, b"".join(self.body)))  # read to close
        else:
            waiter.set_exception(UpstreamError("the instance closed the connection in the middle of an answer"))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # nobody asked for these bytes
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            self._fail(UpstreamError(str(exc.__context__ or exc)))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed answer from the instance: {exc}"))

    def _fail(self, exc: Exception) -> None:
        self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    # -- httptools callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.waiter is None or self.waiter.done():
            raise UpstreamError("the instance sent an answer nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEADER_BYTES:
            raise UpstreamError("the instance's answer head is over 64 KiB")
        low = name.lower()
        if low == b"content-type":
            self.ctype = value.decode("latin-1")
        elif low in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer (100 Continue): the real one follows
        self.headers_done = True
        if status in (204, 304):
            self.framed = True
        if not self.parser.should_keep_alive():
            self.close_after = True
        if self.head_only:
            # llhttp cannot be told the answer to HEAD has no body: answer now, never reuse the connection
            self.close_after = True
            self._resolve(status)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self._reset()
            return
        if not self.head_only:
            self._resolve(status)

    def _resolve(self, status: int) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
            waiter.set_result((status, self.ctype, body))


class Upstream:
    """Keep-alive connections to one instance at 127.0.0.1:<port>."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._idle: deque[_Conn] = deque()
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self.closed = False

    async def request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of one exchange. ``target`` goes on the request line as given."""
        if _LINE_BREAKERS.search(target) or " " in target or _LINE_BREAKERS.search(method):
            raise ValueError(f"refusing to send a request line with control characters: {target[:80]!r}")
        head = bytearray(f"{method} {target} HTTP/1.1\r\n".encode("latin-1"))
        head += self._host_header
        for name, value in headers.items():
            line = f"{name}: {value}"
            if _LINE_BREAKERS.search(line.replace("\t", " ")):
                raise ValueError(f"refusing to forward a header with control characters: {name[:80]!r}")
            head += line.encode("latin-1") + b"\r\n"
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        payload = bytes(head) + body if len(body) < 65536 else None
        head_only = method == "HEAD"
        try:
            async with _timeout(timeout):
                while self._idle:
                    conn = self._idle.pop()
                    if not conn.reusable:
                        conn.close()
                        continue
                    try:
                        return await self._exchange(conn, head, body, payload, head_only)
                    except _Stale:
                        conn.close()
                conn = await self._connect()
                try:
                    return await self._exchange(conn, head, body, payload, head_only)
                except _Stale as exc:
                    conn.close()
                    raise UpstreamError(str(exc) or "the instance closed the connection") from None
        except asyncio.TimeoutError:
            raise  # (a subclass of OSError on Python >= 3.11): the instance is slow, not unreachable
        except (OSError, ValueError, UnicodeEncodeError) as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Conn, self.host, self.port)
        return conn

    async def _exchange(
        self, conn: _Conn, head: bytearray, body: bytes, payload: bytes | None, head_only: bool
    ) -> tuple[int, str, bytes]:
        transport = conn.transport
        if transport is None or transport.is_closing():
            raise _Stale("the connection is closed")
        answer = conn.start(head_only)
        try:
            if payload is not None:
                transport.write(payload)
            else:
                transport.write(bytes(head))
                transport.write(body)
            result = await answer
        except BaseException:
            conn.close()
            raise
        finally:
            conn.waiter = None
        if not conn.reusable or self.closed or len(self._idle) >= MAX_IDLE:
            conn.close()
        else:
            self._idle.append(conn)
        return result

    def close(self) -> None:
        self.closed = True
        while self._idle:
            self._idle.pop().close()
