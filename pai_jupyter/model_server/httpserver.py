"""A minimal HTTP/1.1 server for model instances (asyncio protocol on llhttp, no framework).

An instance answers tiny JSON requests as fast as the model allows; a web
framework costs more per request than a small ONNX model does, and importing
one adds a third of a second to every cold start. Framing is ``http1``'s (the
llhttp parser through ``httptools``): ``Content-Length`` and chunked request
bodies, keep-alive (HTTP/1.1 default, ``Connection: close`` honoured),
pipelining, answers with ``Content-Length``, and the same refusals, head
deadline and connection cap as the gateway's listener. Handlers are
synchronous functions ``(method, path, query, headers, body) -> (status,
content_type, body)`` run on the event loop thread; ``path`` is the target's
path as received (still percent-encoded). A handler may instead return an
awaitable of that tuple (a batched prediction, ``model_server.batching``): the
answer is written when it resolves, and later requests on the same connection
wait for it (parsed and queued, reading paused past ``http1.PAUSE_AT`` bytes),
so answers keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from .http1 import Http1Server, Limits, Reply, Request, error_reply

log = logging.getLogger(__name__)

Answer = tuple[int, str, bytes]
Handler = Callable[[str, str, str, dict[str, str], bytes], Answer | Awaitable[Answer]]


class _Protocol(Http1Server):
    close_on_refusal = True  # an instance has no reason to read a body it refused

    def __init__(
        self, handler: Handler, max_body: int, connections: set[Any] | None = None, limits: Limits | None = None
    ) -> None:
        super().__init__(set() if connections is None else connections, limits or Limits())
        self.handler = handler
        self.max_body = max_body

    def admit(self, req: Request) -> Reply | int:
        if req.content_length is not None and req.content_length > self.max_body:
            return error_reply(413, f"request body is over the {self.max_body}-byte limit", None)
        return self.max_body

    def handle(self, req: Request) -> Reply | Awaitable[Reply]:
        path, _, query = req.target.partition("?")
        headers = {k.lower(): v for k, v in req.headers.items()}
        answer = self.handler(req.method, path, query, headers, req.body)
        if isinstance(answer, tuple):
            status, ctype, payload = answer
            return status, {"Content-Type": ctype}, payload
        return _reply_later(answer)  # computed later: http1 answers when it resolves, keeping the order


async def _reply_later(answer: Awaitable[Answer]) -> Reply:
    status, ctype, payload = await answer
    return status, {"Content-Type": ctype}, payload


async def serve_forever(
    handler: Handler, host: str, port: int, max_body: int = 256 * 2**20, limits: Limits | None = None
) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    connections: set[Any] = set()
    lim = limits or Limits()
    server = await loop.create_server(
        lambda: _Protocol(handler, max_body, connections, lim), host, port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
