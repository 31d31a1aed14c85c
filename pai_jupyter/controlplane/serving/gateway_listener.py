"""The gateway's own HTTP/1.1 listener: an asyncio Protocol (``http1``, llhttp) in front of ``Gateway``'s core.

aiohttp's request machinery costs the gateway about as much CPU per request as
the model instance spends answering it; this listener hands a
``GatewayRequest`` to ``Gateway.admit`` once the head is parsed and to
``Gateway.serve`` once the body is in. What ``http1`` refuses (malformed or
ambiguous framing, control characters, unknown versions, slow heads, one
connection over the cap) is answered there and counted through
``Gateway.count_refusal``. Beyond that it speaks:

- keep-alive (HTTP/1.1 default; ``Connection: close`` and HTTP/1.0 honoured),
  one request at a time per connection, pipelined requests answered in order;
- ``Content-Length`` and chunked request bodies (forwarded de-chunked, with a
  ``Content-Length``);
- ``Expect: 100-continue``: ``100 Continue`` once the head is admitted, else the
  refusal at once (and the connection closed, the body never being sent);
- the early 413: a Content-Length over the service's limit is refused before a
  body byte is read; the body that follows is discarded and the connection kept
  (a chunked body that grows over the limit gets 413 and a close);
- answers with ``Content-Type``, ``Content-Length`` and, from an instance,
  ``X-PAI-Version``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from multidict import CIMultiDict

from ...model_server.http1 import Http1Server, Limits, Request, error_reply
from .gateway import PREFIX, Gateway, GatewayRequest, Reply, ServiceRoute

log = logging.getLogger(__name__)


class _Connection(Http1Server):
    def __init__(self, listener: GatewayListener) -> None:
        super().__init__(listener.connections, listener.limits)
        self.gateway = listener.gateway
        self.routes: dict[int, tuple[GatewayRequest, ServiceRoute]] = {}

    def admit(self, req: Request) -> Reply | int:
        if not req.target.startswith(PREFIX):
            return error_reply(404, f"no route for {req.target.split('?', 1)[0]!r}", "use " + PREFIX)
        greq = GatewayRequest(req.method, req.target, req.headers)
        admitted = self.gateway.admit(greq, req.content_length)
        if not isinstance(admitted, ServiceRoute):
            return admitted
        self.routes[id(req)] = (greq, admitted)
        return admitted.max_body_bytes

    def handle(self, req: Request) -> Awaitable[Reply]:
        greq, route = self.routes.pop(id(req))
        greq.body = req.body
        return self.gateway.serve(route, greq)

    def refused(self, target: str, headers: CIMultiDict[str], status: int) -> None:
        self.gateway.count_refusal(target, headers)


class GatewayListener:
    """Serves ``/api/predict/...`` for ``gateway`` on ``host:port`` (0: a free port)."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self.gateway = gateway
        self.host, self.port = host, port
        config = gateway.config
        self.limits = Limits(
            config.head_timeout_s, config.idle_timeout_s, config.max_connections, config.body_timeout_s
        )
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
