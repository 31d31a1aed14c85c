"""A threaded HTTP server that records every request and dispatches to a handler."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # unquoted
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


def request_id() -> str:
    return secrets.token_hex(12).upper()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeServer:
    """Subclasses implement ``handle(req) -> Response``; ``requests`` keeps them all."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.fail_next: list[Response] = []  # queued error responses, served before anything else

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = self._read_chunked()  # oss2 streams some bodies (RFC 9112 section 7.1)
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    unquote(parts.path),
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.requests.append(req)
                    queued = fake.fail_next.pop(0) if fake.fail_next else None
                try:
                    resp = queued or fake.handle(req)
                except Exception as exc:  # a bug in the fake: make it visible
                    resp = json_response({"Code": "FakeBug", "Message": repr(exc)}, 500)
                self.send_response(resp.status)
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in resp.headers:
                    self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)

            def _read_chunked(self) -> bytes:
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailer fields
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()  # the CRLF after each chunk

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def calls(self, action: str | None = None, method: str | None = None, path_prefix: str = "") -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (action is None or r.headers.get("x-acs-action") == action)
                and (method is None or r.method == method)
                and r.path.startswith(path_prefix)
            ]


def acs_error(status: int, code: str, message: str) -> Response:
    """The POP/ROA error body DLC and EAS return."""
    return json_response({"Code": code, "Message": message, "RequestId": request_id()}, status)


def check_acs_signature(req: Request, version: str, keys: dict[str, str] | None = None) -> Response | None:
    """Every ROA request is ACS3-HMAC-SHA256 signed with the action and version headers;
    the signature is recomputed with the configured secret (``signing.verify_acs3``)."""
    from .signing import KEYS, verify_acs3

    for name in ("x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
        if not req.headers.get(name):
            return acs_error(400, "MissingHeader", f"missing {name}")
    if req.headers.get("x-acs-version") != version:
        return acs_error(400, "InvalidVersion", f"expected version {version}")
    problem = verify_acs3(req, KEYS if keys is None else keys)
    if problem is not None:
        return acs_error(problem.status, problem.code, problem.message)
    return None


def image_has(requirement: str, python: str) -> bool:
    """Whether a fake's "image" (``python`` run isolated, so the test's own sys.path is not seen)
    has a pip requirement, at the pinned version when one is given."""
    name, _, version = requirement.partition("==")
    name = re.split(r"[<>=!~ ;\[]", name, maxsplit=1)[0].strip()
    code = f"import importlib.metadata as m\ntry:\n print(m.version({name!r}))\nexcept Exception:\n print('')"
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=30).stdout.strip()
    return bool(out) and (not version or out == version.strip())


def check_acs_request(req: Request, versions: tuple[str, ...]) -> Response | None:
    """A product's version (``x-acs-version``) is one the fake speaks, and the ACS3 signature holds."""
    version = req.headers.get("x-acs-version", "")
    if version not in versions:
        return acs_error(400, "InvalidVersion", f"unknown version {version}")
    return check_acs_signature(req, version)
