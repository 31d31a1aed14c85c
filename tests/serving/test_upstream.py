"""The gateway's upstream client against real sockets: framing, keep-alive, stale connections."""

from __future__ import annotations

import asyncio

import pytest

from pai_jupyter.controlplane.serving.upstream import Upstream, UpstreamError


async def _server(
    responses: list[bytes], close_after: bool = False
) -> tuple[asyncio.AbstractServer, int, list[bytes]]:
    """Answer each request on a connection with the next canned response; record requests."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while responses:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            seen.append(head + await reader.readexactly(length))
            writer.write(responses.pop(0))
            await writer.drain()
            if close_after:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


async def read_one(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_content_length_keep_alive_and_chunked() -> None:
    async def main() -> None:
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        plain = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
        server, port, seen = await _server([plain, chunked, plain])
        up = Upstream(port)
        assert await up.request("POST", "/predict", {"Content-Type": "application/json"}, b"xyz", 5) == (
            201,
            "application/json",
            b"{}",
        )
        assert await up.request("POST", "/a?b=1", {}, b"", 5) == (200, "text/plain", b"abcde")
        assert await up.request("GET", "/", {}, b"", 5) == (201, "application/json", b"{}")
        assert seen[0].startswith(b"POST /predict HTTP/1.1\r\n") and seen[0].endswith(b"\r\n\r\nxyz")
        assert b"Content-Length: 3\r\n" in seen[0]
        assert len(up._idle) == 1  # one connection served all three
        up.close()
        server.close()

    run(main())


def test_close_delimited_and_stale_connection_retry() -> None:
    async def main() -> None:
        old = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"
        server, port, _ = await _server([old], close_after=True)
        up = Upstream(port)
        assert await up.request("POST", "/", {}, b"", 5) == (200, "text/plain", b"until close")
        assert not up._idle  # a close-delimited answer never returns its connection to the pool
        server.close()
        await server.wait_closed()

        # A kept-alive connection the server closed while idle is replaced transparently.
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        server, port, _ = await _server([ok, ok], close_after=True)
        up = Upstream(port)
        assert (await up.request("POST", "/", {}, b"", 5))[2] == b"ok"
        assert (await up.request("POST", "/", {}, b"", 5))[2] == b"ok"
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamError):
            await up.request("POST", "/", {}, b"", 5)

    run(main())


def test_timeout_is_not_a_connection_failure() -> None:
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        up = Upstream(server.sockets[0].getsockname()[1])
        with pytest.raises(asyncio.TimeoutError):
            await up.request("POST", "/", {}, b"", 0.2)
        server.close()

    run(main())


def test_instance_http_server_framing() -> None:
    """The instances' own server: keep-alive, pipelining, Connection: close, limits."""
    from pai_jupyter.model_server.httpserver import _Protocol

    def handler(method, path, query, headers, body):  # type: ignore[no-untyped-def]
        return 200, "text/plain", f"{method} {path} {query} {body.decode()}".encode()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Protocol(handler, max_body=10), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        up = Upstream(port)
        assert await up.request("POST", "/predict?a=1", {}, b"hi", 5) == (
            200,
            "text/plain",
            b"POST /predict a=1 hi",
        )
        assert (await up.request("GET", "/x", {}, b"", 5))[2] == b"GET /x  "
        assert len(up._idle) == 1
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Two pipelined requests, the second asks to close.
        writer.write(
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n1POST /b HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        data = await reader.read()
        assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"POST /b  ")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 413")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # A chunked body is served de-chunked; one that grows over the limit gets 413 and a close.
        writer.write(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n1\r\n!\r\n0\r\n\r\n")
        assert (await read_one(reader)).endswith(b"\r\n\r\nPOST /a  hi!")
        writer.write(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 413")
        up.close()
        server.close()

    run(main())


def test_interim_100_continue_and_head() -> None:
    async def main() -> None:
        interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        after = b"HTTP/1.1 204 No Content\r\n\r\n"
        server, port, _ = await _server([interim, head, after])
        up = Upstream(port)
        assert await up.request("POST", "/", {}, b"x", 5) == (200, "application/octet-stream", b"ok")
        assert (await up.request("HEAD", "/", {}, b"", 5))[:2] == (200, "application/octet-stream")
        assert (await up.request("POST", "/", {}, b"", 5))[0] == 204  # the connection stayed in sync
        up.close()
        server.close()

    run(main())

    from pai_jupyter.model_server.httpserver import _Protocol

    async def expect() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Protocol(lambda *a: (200, "text/plain", a[4]), max_body=100), "127.0.0.1", 0
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"abc")
        assert (await reader.read()).endswith(b"\r\n\r\nabc")
        server.close()

    run(expect())
