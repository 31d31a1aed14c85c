"""HTTP/1.1 server framing on llhttp (``httptools``) for the gateway listener and the model instances.

Both servers on the predict path parse requests here, with the parser Node.js
and uvicorn use, instead of by hand. One asyncio ``Protocol`` per connection
(no streams, no framework), so a request costs about what the hand-written
parsers cost; what llhttp refuses and what is refused on top of it:

- anything that is not HTTP/1.0 or HTTP/1.1 (``HTTP/1.9``, ``HTTP/2.0``);
- CR, LF, NUL or other control characters in the request line or in header
  names and values (bare LF/CR included), and a request target that carries
  them percent-encoded (``%0d%0a``, ``%00``): the target is forwarded still
  encoded, exactly as received, so this is defence in depth for processors
  that decode it;
- two ``Content-Length`` headers (equal or not), one that is not a plain number,
  ``Content-Length`` together with ``Transfer-Encoding``, and any
  ``Transfer-Encoding`` but a single ``chunked`` (``xchunked``,
  ``chunked, identity``, ``gzip, chunked``, two TE headers);
- a head over ``MAX_HEAD`` bytes (431);

each answered with one JSON line and the connection closed (after the answers
to requests before it on the connection, in order). Chunked request bodies are
served: the handler sees the de-chunked body. A head must arrive within
``head_timeout_s`` of its first byte (or of the connection opening): a head
trickled byte by byte gets 408 and the connection is closed, as does a body
that takes over ``body_timeout_s`` after its head; an idle keep-alive
connection closes after ``idle_timeout_s``. At most ``max_connections`` are
open at once; one more gets 503 and is closed.

Pipelined requests are parsed as they arrive and answered one at a time, in
order; reading pauses while more than ``PAUSE_AT`` bytes of them wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
from multidict import CIMultiDict

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
PAUSE_AT = 1 << 20
Reply = tuple[int, dict[str, str], bytes]
JSON_TYPE = "application/json; charset=utf-8"
_REASONS = {s.value: s.phrase for s in HTTPStatus}
# anything but visible ASCII in a target, and control characters percent-encoded: %00-%1F and %7F
_BAD_TARGET = re.compile(r"[^\x21-\x7e]|%(?:[01][0-9a-fA-F]|7[fF])")


@dataclass
class Limits:
    head_timeout_s: float = 10.0
    idle_timeout_s: float = 75.0
    max_connections: int = 1024
    body_timeout_s: float = 60.0


class Refusal(Exception):
    """A request refused before its handler: ``status``, a one-line message, a hint."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


class Request:
    """One request: ``target`` exactly as received (still percent-encoded), case-insensitive headers."""

    __slots__ = (
        "body",
        "chunked",
        "content_length",
        "headers",
        "keep_alive",
        "method",
        "size",
        "target",
        "version",
    )

    def __init__(self, method: str, target: str, version: str, headers: CIMultiDict[str]) -> None:
        self.method, self.target, self.version, self.headers = method, target, version, headers
        self.body = b""
        self.keep_alive = True
        self.chunked = False
        self.content_length: int | None = None
        self.size = 0  # bytes it holds while it waits its turn (head + body)


def error_reply(status: int, message: str, hint: str | None = None) -> Reply:
    return status, {"Content-Type": JSON_TYPE}, json.dumps({"error": message, "hint": hint}).encode()


def encode(reply: Reply, close: bool) -> bytes:
    status, headers, body = reply
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    head.extend(f"{k}: {v}" for k, v in headers.items())
    head.append(f"Content-Length: {len(body)}")
    if close:
        head.append("Connection: close")
    head.append("\r\n")
    return "\r\n".join(head).encode("latin-1") + body


def check_target(target: str) -> None:
    """Refuse a target that is not an origin-form path or that carries control characters, encoded or not."""
    if not target.startswith("/"):
        raise Refusal(400, "the request target must be a path starting with '/'", "send origin-form: /path?query")
    if _BAD_TARGET.search(target):
        raise Refusal(
            400,
            "the request target carries control or non-ASCII characters",
            "percent-encode the path as UTF-8; CR, LF, NUL and other control characters are refused",
        )


def _check_head(req: Request) -> None:
    if req.version not in ("1.1", "1.0"):
        raise Refusal(
            505 if req.version.startswith("2") else 400, f"HTTP/{req.version} is not served", "use HTTP/1.1"
        )
    check_target(req.target)
    if req.method == "CONNECT" or "Upgrade" in req.headers:
        # llhttp stops at an upgrade; serving it as plain HTTP would leave the body unparsed
        raise Refusal(400, "protocol upgrades and CONNECT are not served", "send plain HTTP/1.1 without Upgrade")
    te = req.headers.getall("Transfer-Encoding", [])
    if te:
        if len(te) != 1 or te[0].strip().lower() != "chunked":
            raise Refusal(
                400, "only 'Transfer-Encoding: chunked' is accepted", "send one chunked TE, or a Content-Length"
            )
        req.chunked = True
    cl = req.headers.getall("Content-Length", [])
    if cl:
        if len(cl) != 1 or not cl[0].isdigit():
            raise Refusal(400, "one Content-Length with a plain number is required", None)
        req.content_length = int(cl[0])


class Http1Server(asyncio.Protocol):
    """One connection. Subclasses implement ``admit`` (head only) and ``handle`` (with the body)."""

    close_on_refusal = False  # True: a request refused by ``admit`` closes the connection (its body unread)

    def __init__(self, connections: set[Any], limits: Limits) -> None:
        self.connections = connections
        self.limits = limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[tuple[Request | None, Reply | None, bool]] = deque()  # (request, refusal, close)
        self.queued_bytes = 0
        self.busy = False
        self.task: asyncio.Future[None] | None = None  # the request being answered
        self.paused = False
        self.broken = False  # stop parsing: the connection closes after the queued answers
        # the message being parsed
        self._url = b""
        self._raw_headers: list[tuple[str, str]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._req: Request | None = None
        self._discard = False  # the current message was refused at its head: drop its body
        self._limit = 0
        # deadlines: "head" from the first byte of a head (or from the connection), "idle" after an answer
        self._state = "head"
        self._since = 0.0
        self._got_bytes = False
        self._head_raw = 0
        self._head_chunks: list[bytes] = []  # what arrived while a head was incomplete (to attribute a refusal)
        self._timer: asyncio.TimerHandle | None = None

    # -- hooks ------------------------------------------------------------------------------
    def admit(self, req: Request) -> Reply | int:
        """The refusal to answer at once, else the body size limit for this request."""
        raise NotImplementedError

    def handle(self, req: Request) -> Reply | Awaitable[Reply]:
        raise NotImplementedError

    def refused(self, target: str, headers: CIMultiDict[str], status: int) -> None:
        """Called for each request refused before ``admit`` (malformed, timed out); counts it where it belongs."""

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.connections) >= self.limits.max_connections:
            reply = error_reply(
                503,
                f"too many open connections ({self.limits.max_connections})",
                "reuse keep-alive connections, or retry shortly",
            )
            self.transport.write(encode(reply, True))
            self.transport.close()
            self.transport = None
            return
        self.connections.add(self)
        self._since = time.monotonic()
        self._arm(self.limits.head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return
        if self._state != "body":
            self._head_chunks.append(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Stop):
                pass  # refused at its head; the answer is queued
            elif isinstance(cause, Refusal):
                self._refuse(cause)
            else:
                log.error("HTTP framing failed: %r", cause)
                self._refuse(Refusal(500, "internal error while reading the request", None))
        except httptools.HttpParserUpgrade:
            self._refuse(Refusal(400, "protocol upgrades are not served", None))
        except httptools.HttpParserError as exc:
            self._refuse(Refusal(400, f"malformed request: {exc}", "send HTTP/1.1 (RFC 9112)"))
        if self._state == "head" and self._got_bytes and not self.broken:
            self._head_raw += len(data)  # httptools buffers a header value whole before calling back
            if self._head_raw > 2 * MAX_HEAD:
                self._refuse(Refusal(431, f"request head is over {MAX_HEAD // 1024} KiB", None))
        if self.queued_bytes > PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._pump()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- httptools callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._raw_headers = []
        self._head_size = 0
        self._body = []
        self._body_size = 0
        self._req = None
        self._discard = False
        self._state = "head"
        self._since = time.monotonic()
        self._got_bytes = True

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD:
            raise Refusal(431, f"request head is over {MAX_HEAD // 1024} KiB", None)
        self._raw_headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._state = "body"
        self._since = time.monotonic()
        self._head_raw = 0
        self._head_chunks = []
        parser = self.parser
        req = Request(
            parser.get_method().decode("ascii"),
            self._url.decode("latin-1"),
            parser.get_http_version(),
            CIMultiDict(self._raw_headers),
        )
        self._req = req
        _check_head(req)
        req.keep_alive = parser.should_keep_alive()
        admitted = self.admit(req)
        if isinstance(admitted, int):
            self._limit = admitted
            if (
                req.headers.get("Expect", "").lower() == "100-continue"
                and not self.queue
                and not self.busy
                and self.transport is not None
            ):
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._discard = True
        # A client holding its body back for 100 Continue may or may not send it: close after answering.
        close = (
            self.close_on_refusal
            or not req.keep_alive
            or (
                req.headers.get("Expect", "").lower() == "100-continue" and bool(req.content_length or req.chunked)
            )
        )
        self.queue.append((None, admitted, close))
        if close:
            self.broken = True
            raise _Stop

    def on_body(self, body: bytes) -> None:
        if self._discard:
            return
        self._body_size += len(body)
        if self._body_size > self._limit:
            raise Refusal(413, f"request body is over the {self._limit}-byte limit", "send a smaller body")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._state = "idle"
        self._since = time.monotonic()
        req = self._req
        self._req = None
        if self._discard or req is None:
            return
        req.body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        req.size = len(req.body) + self._head_size + 256  # + the objects around them
        self.queued_bytes += req.size
        self.queue.append((req, None, not req.keep_alive))

    def _grow(self, n: int) -> None:
        self._head_size += n
        if self._head_size > MAX_HEAD:
            raise Refusal(431, f"request head is over {MAX_HEAD // 1024} KiB", None)

    # -- answering -------------------------------------------------------------------------------
    def _refuse(self, refusal: Refusal) -> None:
        self.broken = True
        target, headers = self._url.decode("latin-1"), CIMultiDict(self._raw_headers)
        if self._head_chunks:  # the parser stopped inside a head: read what it can of it, to count the refusal
            target, headers = salvage_head(b"".join(self._head_chunks), target, headers)
        try:
            self.refused(target, headers, refusal.status)
        except Exception:  # counting must never cost the client its answer
            log.exception("counting a refused request failed")
        self.queue.append((None, error_reply(refusal.status, refusal.message, refusal.hint), True))

    def _pump(self) -> None:
        while self.queue and not self.busy and self.transport is not None:
            req, reply, close = self.queue.popleft()
            if req is None:
                self._write(reply, close)  # type: ignore[arg-type]
                continue
            self.queued_bytes -= req.size
            try:
                result = self.handle(req)
            except Exception:
                _log_failure(req)
                result = error_reply(500, "internal error", "see the server's log")
            if isinstance(result, tuple):
                self._write(result, close)
            else:
                self.busy = True
                self.task = asyncio.ensure_future(self._finish(req, result, close))
                return
        if self.paused and self.queued_bytes <= PAUSE_AT and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    async def _finish(self, req: Request, pending: Awaitable[Reply], close: bool) -> None:
        try:
            reply = await pending
        except asyncio.CancelledError:  # the server is stopping: no answer is coming
            self.close()
            raise
        except Exception:
            _log_failure(req)
            reply = error_reply(500, "internal error", "see the server's log")
        self.busy = False
        self._write(reply, close)
        self._pump()

    def _write(self, reply: Reply, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(encode(reply, close))
        if self._state == "idle":
            self._since = time.monotonic()  # the keep-alive idle time starts with the answer
        if close:
            self.transport.close()
            self.queue.clear()

    # -- deadlines ---------------------------------------------------------------------------------
    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.05), self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        if self.transport is None:
            return
        now = time.monotonic()
        if self._state == "head" and not self.broken:
            left = self._since + self.limits.head_timeout_s - now
            if left <= 0:
                if self._got_bytes or self.busy or self.queue:
                    self._refuse(
                        Refusal(
                            408, f"the request head did not arrive within {self.limits.head_timeout_s:g}s", None
                        )
                    )
                    self._pump()
                else:
                    self.transport.close()  # connected and never sent a byte
                return
            self._arm(left)
        elif self._state == "body" and not self.broken:
            left = self._since + self.limits.body_timeout_s - now
            if left <= 0:
                message = f"the request body did not arrive within {self.limits.body_timeout_s:g}s of its head"
                self._refuse(Refusal(408, message, None))
                self._pump()
                return
            self._arm(min(left, self.limits.head_timeout_s))
        elif self._state == "idle" and not self.busy and not self.queue:
            left = self._since + self.limits.idle_timeout_s - now
            if left <= 0:
                self.transport.close()
                return
            self._arm(left)
        else:
            self._arm(min(self.limits.head_timeout_s, self.limits.idle_timeout_s))


_REQUEST_LINE = re.compile(rb"(?:^|\r?\n)[A-Z]+ (/[^ \r\n]*) HTTP/")


def salvage_head(raw: bytes, target: str, headers: CIMultiDict[str]) -> tuple[str, CIMultiDict[str]]:
    """Best effort: the target and header lines of the request head in ``raw``, only to count a refusal."""
    last = _REQUEST_LINE.search(raw)  # the first: the chunks start where the failed head started
    if last is None:
        return target, headers
    salvaged: CIMultiDict[str] = CIMultiDict()
    for line in raw[last.end() :].split(b"\r\n")[1:]:
        if not line:
            break
        name, sep, value = line.partition(b":")
        if sep and name and name.strip() == name:
            salvaged.add(name.decode("latin-1"), value.strip().decode("latin-1"))
    return last.group(1).decode("latin-1"), salvaged


class _Stop(Exception):
    """Stop parsing: the request was refused and the connection closes after its answer."""


_last_failure_log = 0.0
_failures_unlogged = 0


def _log_failure(req: Request) -> None:
    """A handler's exception, logged with its traceback at most once a minute (no log flood)."""
    global _last_failure_log, _failures_unlogged
    now = time.monotonic()
    if now - _last_failure_log < 60.0:
        _failures_unlogged += 1
        return
    more = f" ({_failures_unlogged} more since the last one)" if _failures_unlogged else ""
    _last_failure_log, _failures_unlogged = now, 0
    log.exception("handler failed on %s %s%s", req.method, req.target[:200], more)
