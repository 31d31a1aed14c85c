"""A lean HTTP/1.1 client for gateway -> instance hops: keep-alive connections per instance.

The gateway forwards every prediction over one of these; a general-purpose
client (aiohttp's) spends more CPU per request than the tiny model servers do
answering it, and on a small machine that CPU is taken from the instances.
This one writes the request in one buffer and parses only what a proxy needs
(status, Content-Type, Content-Length / chunked / read-to-close body).

Connections are reused (LIFO, so the warmest one goes first). A request that
fails on a reused connection before any byte of the answer arrived is retried
once on a fresh one (the instance closed an idle keep-alive connection); any
other failure raises ``UpstreamError`` for the gateway to route around.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Mapping
from typing import Any

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


class UpstreamError(Exception):
    """The instance could not be reached or broke the connection."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass


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
        """(status, content type, body) of one exchange."""
        head = bytearray(f"{method} {target} HTTP/1.1\r\n".encode("latin-1"))
        head += self._host_header
        for name, value in headers.items():
            head += f"{name}: {value}\r\n".encode("latin-1")
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        payload = bytes(head) + body if len(body) < 65536 else None
        try:
            async with _timeout(timeout):
                while self._idle:
                    conn = self._idle.pop()
                    try:
                        return await self._exchange(conn, head, body, payload)
                    except _Stale:
                        conn.close()
                conn = await self._connect()
                try:
                    return await self._exchange(conn, head, body, payload)
                except _Stale as exc:
                    conn.close()
                    raise UpstreamError(str(exc) or "the instance closed the connection") from None
        except asyncio.TimeoutError:
            raise  # (a subclass of OSError on Python >= 3.11): the instance is slow, not unreachable
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES)
        return _Conn(reader, writer)

    async def _exchange(
        self, conn: _Conn, head: bytearray, body: bytes, payload: bytes | None
    ) -> tuple[int, str, bytes]:
        writer, reader = conn.writer, conn.reader
        try:
            if payload is not None:
                writer.write(payload)
            else:
                writer.write(bytes(head))
                writer.write(body)
            raw = await reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            # Nothing of the answer arrived: the connection was dead before we used it.
            raise _Stale(str(exc)) from None
        try:
            status, ctype, length, chunked, close = _parse_head(raw)
            while 100 <= status < 200:  # interim answers (100 Continue): the real one follows
                status, ctype, length, chunked, close = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            if head.startswith(b"HEAD "):
                length, chunked = 0, False
            if chunked:
                data = await _read_chunked(reader)
            elif length is not None:
                data = await reader.readexactly(length) if length else b""
            else:
                data = await reader.read()
                close = True
        except BaseException:
            conn.close()
            raise
        if close or self.closed or len(self._idle) >= MAX_IDLE:
            conn.close()
        else:
            self._idle.append(conn)
        return status, ctype, data

    def close(self) -> None:
        self.closed = True
        while self._idle:
            self._idle.pop().close()


class _Stale(Exception):
    pass


def _parse_head(raw: bytes) -> tuple[int, str, int | None, bool, bool]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(parts[1])
    ctype, length, chunked = "application/octet-stream", None, False
    close = parts[0] == "HTTP/1.0"
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        value = value.strip()
        if key == "content-length":
            length = int(value)
        elif key == "content-type":
            ctype = value
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            low = value.lower()
            close = "close" in low or (close and "keep-alive" not in low)
    if status in (204, 304):
        length = 0
    return status, ctype, length, chunked, close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
