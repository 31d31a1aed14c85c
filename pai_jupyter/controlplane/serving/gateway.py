"""The EAS-compatible gateway: ``/api/predict/<service>[/sub/path]`` on its own listener.

Per request: find the service (404), authenticate (401 without credentials,
403 with wrong ones; counted, never served), enforce the body limit (413),
pick a version by smooth weighted round-robin, pick a ready instance of it
(round-robin), forward over a pooled keep-alive connection, and answer with
the instance's status and body plus ``X-PAI-Version``. A refused connection
marks the instance suspect and the request is retried once on another ready
instance (same version first, then another live version). When the chosen
version has no ready instance and no other version does either (scale to zero,
or its only instance is restarting), the request waits in a bounded queue for
a bounded time while the first instance starts.

Authentication takes either form EAS accepts:
- the plain token: ``Authorization: <token>``;
- the signature the ``eas-prediction`` client sends: ``Authorization: EAS <b64>``
  where ``<b64>`` = base64(HMAC-SHA1(token, "POST\\n<Content-MD5>\\n<Content-Type>\\n<Date>\\n<path>")),
  with ``Content-MD5`` the hex MD5 of the body (checked) and ``Date`` within
  ``max_date_skew_s`` of now. All comparisons are constant-time.

``/api/predict/<service>@v<N>`` pins a request to version N (a version
deployed with ``new_api_version`` serves only there).

The core works on a framework-free ``GatewayRequest`` and answers a ``Reply``
``(status, headers, body)``: ``admit`` (404 / auth / early 413 from
Content-Length, before any body byte is read), then ``serve`` with the body.
The raw asyncio listener on the gateway's own port (``gateway_listener``, what
endpoints point at) drives it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from ...model_server.http1 import Refusal, check_target
from ...records import VERSION_HEADER
from .envconfig import env_overrides
from .instances import EventSink, Instance, VersionPool
from .traffic import Figures, SmoothWRR, Window
from .upstream import UpstreamError

log = logging.getLogger(__name__)
PREFIX = "/api/predict/"
_HOP_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
        "te",
        "upgrade",
    }
)


@dataclass
class GatewayConfig:
    max_date_skew_s: float = 900.0
    cold_start_timeout_s: float = 30.0
    max_queued: int = 256
    request_timeout_s: float = 60.0
    window_horizon_s: int = 900
    auth_event_every_s: float = 10.0
    # the listener's HTTP limits (``http1.Limits``)
    head_timeout_s: float = 10.0
    idle_timeout_s: float = 75.0
    max_connections: int = 1024
    body_timeout_s: float = 60.0

    @classmethod
    def from_env(cls) -> GatewayConfig:
        """``PAI_SERVING_<FIELD>`` overrides, e.g. ``PAI_SERVING_COLD_START_TIMEOUT_S=10``."""
        return env_overrides(cls())


@dataclass
class VersionRoute:
    version: int
    processor: str
    pool: VersionPool
    weight: float = 0.0
    pinned_only: bool = False
    window: Window = field(default_factory=Window)

    @property
    def custom(self) -> bool:
        return self.processor == "custom"


@dataclass
class ServiceRoute:
    name: str
    token: str
    max_body_bytes: int
    versions: dict[int, VersionRoute] = field(default_factory=dict)
    wrr: SmoothWRR = field(default_factory=SmoothWRR)
    queued: int = 0
    last_request_at: float | None = None
    auth_failures: dict[str, int] = field(default_factory=dict)
    # refused before routing (malformed, timed out) without valid credentials: counted here, not per version
    malformed: int = 0
    _auth_unreported: dict[str, int] = field(default_factory=dict)
    _auth_reported_at: float = 0.0

    def set_weights(self, weights: dict[int, float]) -> None:
        for number, route in self.versions.items():
            route.weight = float(weights.get(number, 0.0))
        self.wrr.set({n: r.weight for n, r in self.versions.items() if not r.pinned_only})

    def queued_for(self, version: int) -> int:
        return self._queued_by_version.get(version, 0)

    def __post_init__(self) -> None:
        self._queued_by_version: dict[int, int] = {}


Reply = tuple[int, dict[str, str], bytes]
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class GatewayRequest:
    """One request as the gateway sees it: ``raw_path`` as sent (still percent-encoded, with the query).

    Only the service segment is decoded (to look the service up); the sub-path
    and the query go upstream exactly as they came.
    """

    method: str
    raw_path: str
    headers: Mapping[str, str]
    body: bytes = b""

    def parts(self) -> tuple[str, str, str]:
        """(service name, version pin, sub-path still encoded) of a ``/api/predict/...`` target."""
        rest = self.raw_path.partition("?")[0][len(PREFIX) :]
        segment, _, sub = rest.partition("/")
        name, _, pin = unquote(segment, errors="strict").partition("@")
        return name, pin, sub

    @property
    def query_string(self) -> str:
        return self.raw_path.partition("?")[2]


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.hint = status, reason, message, hint


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        events: EventSink,
        on_cold: Callable[[str, int], None] = lambda s, v: None,
    ) -> None:
        self.config = config
        self.events = events
        self.on_cold = on_cold
        self.services: dict[str, ServiceRoute] = {}
        self.unknown_service_requests = 0

    # -- the core -------------------------------------------------------------------
    def admit(self, req: GatewayRequest, content_length: int | None) -> ServiceRoute | Reply:
        """The service route if the request may go on to send its body, else the refusal to answer."""
        try:
            name = req.parts()[0]
        except UnicodeDecodeError:
            name = ""
        route = self.services.get(name)
        if route is None:
            self.unknown_service_requests += 1
            return _json_error(404, f"no service named {name!r}", "list services with `jupyter pai services list`")
        try:
            self._authenticate(route, req)
            try:
                check_target(req.raw_path)
            except Refusal as bad:
                self._count_refusal(route, req)
                return _json_error(bad.status, bad.message, bad.hint)
            limit = route.max_body_bytes
            if content_length is not None and content_length > limit:
                self._count_refusal(route, req)
                raise _Refused(
                    413, "too large", f"request body of {content_length} bytes is over the {limit}-byte limit"
                )
        except _Refused as refused:
            return self._refuse(route, refused)
        return route

    def count_refusal(self, raw_path: str, headers: Mapping[str, str]) -> None:
        """A request refused by the listener before ``admit`` (malformed head, head timeout, body over the limit).

        Counted as an error of the version it would have gone to (its pin, else the
        next weighted pick) when it carries valid credentials for the service, so
        rollout gates see it; without them only in the service's ``malformed``
        count, so nobody without the token can move a rollout.
        """
        if not raw_path.startswith(PREFIX):
            return
        req = GatewayRequest("POST", raw_path, headers)
        try:
            route = self.services.get(req.parts()[0])
        except UnicodeDecodeError:
            return
        if route is None:
            return
        try:
            self._authenticate(route, req)
        except _Refused:
            route.malformed += 1
            return
        self._count_refusal(route, req)

    def _count_refusal(self, route: ServiceRoute, req: GatewayRequest) -> None:
        try:
            pin = _pinned_version(req.parts()[1])
        except UnicodeDecodeError:
            pin = None
        number = pin if pin is not None else route.wrr.pick()
        version = route.versions.get(number) if number is not None else None
        if version is None:
            route.malformed += 1
            return
        version.window.record(time.time(), 0.0, True)

    async def serve(self, route: ServiceRoute, req: GatewayRequest) -> Reply:
        """Answer an admitted request whose body has been read."""
        name, pin, sub = req.parts()
        if req.headers.get("Authorization", "").startswith("EAS "):
            try:
                self._check_md5(req, req.body)
            except _Refused as refused:
                return self._refuse(route, refused)
        route.last_request_at = time.time()
        pinned = _pinned_version(pin)
        if pin and (pinned is None or pinned not in route.versions):
            return _json_error(404, f"service {name!r} has no version {pin!r}", "use <service>@v<N>")
        return await self._forward(route, req, req.body, sub, pinned)

    def _refuse(self, route: ServiceRoute, refused: _Refused) -> Reply:
        if refused.status in (401, 403):
            self._count_auth_failure(route, refused.reason)
        return _json_error(refused.status, refused.message, refused.hint)

    def _authenticate(self, route: ServiceRoute, request: GatewayRequest) -> None:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise _Refused(401, "missing token", "missing Authorization header", "send the service token")
        token = route.token.encode()
        if header.startswith("EAS "):
            self._check_signature(route, request, header[4:].strip())
            return
        supplied = header.split(" ", 1)[1].strip() if header.lower().startswith(("bearer ", "token ")) else header
        if not hmac.compare_digest(supplied.encode(), token):
            raise _Refused(403, "wrong token", "wrong token", "get it with `jupyter pai services token NAME`")

    def _check_signature(self, route: ServiceRoute, request: GatewayRequest, signature: str) -> None:
        date = request.headers.get("Date", "")
        try:
            sent = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            raise _Refused(
                401, "bad date", "signed request without a valid Date header", "send an RFC 7231 Date"
            ) from None
        if abs(time.time() - sent) > self.config.max_date_skew_s:
            raise _Refused(
                403,
                "stale date",
                f"signed request's Date is more than {self.config.max_date_skew_s:g}s from the server's clock",
                "check the client's clock",
            )
        raw_path = request.raw_path.split("?", 1)[0]
        to_sign = "\n".join(
            [
                request.method,
                request.headers.get("Content-MD5", ""),
                request.headers.get("Content-Type", ""),
                date,
                raw_path,
            ]
        ).strip()
        expected = base64.b64encode(hmac.new(route.token.encode(), to_sign.encode(), hashlib.sha1).digest())
        if not hmac.compare_digest(expected, signature.encode()):
            raise _Refused(403, "bad signature", "request signature does not match", "sign with the service token")

    def _check_md5(self, request: GatewayRequest, body: bytes) -> None:
        supplied = request.headers.get("Content-MD5", "").strip().lower()
        if not hmac.compare_digest(supplied.encode(), hashlib.md5(body).hexdigest().encode()):
            raise _Refused(403, "bad signature", "Content-MD5 does not match the body", "sign the body you send")

    def _count_auth_failure(self, route: ServiceRoute, reason: str) -> None:
        route.auth_failures[reason] = route.auth_failures.get(reason, 0) + 1
        route._auth_unreported[reason] = route._auth_unreported.get(reason, 0) + 1
        now = time.time()
        if now - route._auth_reported_at >= self.config.auth_event_every_s:
            counts = dict(route._auth_unreported)
            route._auth_unreported.clear()
            route._auth_reported_at = now
            total = sum(counts.values())
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            self.events(route.name, 0, "auth", f"refused {total} unauthenticated request(s) ({detail})", counts)

    # -- routing --------------------------------------------------------------
    def _choose(self, route: ServiceRoute, pinned: int | None) -> VersionRoute | None:
        if pinned is not None:
            return route.versions.get(pinned)
        number = route.wrr.pick()
        if number is None:
            return None
        chosen = route.versions[number]
        if chosen.pool.pick() is None:
            # Route around a version with no ready instance when another live one has some.
            for other in route.versions.values():
                if other is not chosen and other.weight > 0 and not other.pinned_only and other.pool.pick():
                    return other
        return chosen

    async def _instance(self, route: ServiceRoute, version: VersionRoute) -> Instance | None:
        inst = version.pool.pick()
        if inst is not None:
            return inst
        if route.queued >= self.config.max_queued:
            return None
        route.queued += 1
        route._queued_by_version[version.version] = route._queued_by_version.get(version.version, 0) + 1
        try:
            self.on_cold(route.name, version.version)
            return await version.pool.wait_ready(self.config.cold_start_timeout_s)
        finally:
            route.queued -= 1
            route._queued_by_version[version.version] -= 1

    async def _forward(
        self, route: ServiceRoute, request: GatewayRequest, body: bytes, sub: str, pinned: int | None
    ) -> Reply:
        started = time.perf_counter()
        version = self._choose(route, pinned)
        if version is None:
            return _json_error(503, f"service {route.name!r} has no version taking traffic", "deploy a model")
        inst = await self._instance(route, version)
        if inst is None:
            self._record(version, started, error=True)
            full = route.queued >= self.config.max_queued
            return _json_error(
                503,
                "cold-start queue is full" if full else f"no instance of version {version.version} became ready",
                "retry shortly; see `jupyter pai services show` for instance events",
            )
        if version.custom:
            target = "/" + sub
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        else:
            target = "/" + sub if sub else "/predict"
            headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        if request.query_string:
            target += "?" + request.query_string
        timeout = self.config.request_timeout_s
        for attempt in (0, 1):
            inst.inflight += 1
            try:
                status, ctype, payload = await inst.upstream.request(
                    request.method, target, headers, body, timeout
                )
            except UpstreamError:
                version.pool.mark_suspect(inst)
                retry = self._retry_target(route, version, inst, pinned) if attempt == 0 else None
                if retry is None and attempt == 0:
                    # No other ready instance anywhere: hold the request while this one is replaced.
                    waited = await self._instance(route, version)
                    retry = (version, waited) if waited is not None and waited is not inst else None
                if retry is None:
                    self._record(version, started, error=True)
                    return _json_error(502, f"instance of version {version.version} is unreachable", "retry")
                version, inst = retry
                continue
            except asyncio.TimeoutError:
                self._record(version, started, error=True)
                return _json_error(504, f"version {version.version} did not answer within {timeout:g}s", None)
            finally:
                inst.inflight -= 1
            self._record(version, started, error=status >= 500)
            return status, {"Content-Type": ctype, VERSION_HEADER: str(version.version)}, payload
        raise AssertionError("unreachable")

    def _retry_target(
        self, route: ServiceRoute, version: VersionRoute, failed: Instance, pinned: int | None
    ) -> tuple[VersionRoute, Instance] | None:
        inst = version.pool.pick(exclude=failed)
        if inst is not None:
            return version, inst
        if pinned is not None:
            return None
        for other in route.versions.values():
            if other is not version and other.weight > 0 and not other.pinned_only:
                inst = other.pool.pick()
                if inst is not None:
                    return other, inst
        return None

    def _record(self, version: VersionRoute, started: float, error: bool) -> None:
        version.window.record(time.time(), (time.perf_counter() - started) * 1000.0, error)

    # -- figures --------------------------------------------------------------
    def figures(self, service: str, version: int, since: float, until: float | None = None) -> Figures:
        route = self.services.get(service)
        if route is None or version not in route.versions:
            return Figures(0, 0, 0.0, None, None, None)
        return route.versions[version].window.figures(since, until if until is not None else time.time())

    def live(self, service: str, span_s: float = 10.0) -> dict[str, Any]:
        route = self.services.get(service)
        if route is None:
            return {}
        now = time.time()
        return {
            "queued": route.queued,
            "auth_failures": dict(route.auth_failures),
            "malformed": route.malformed,
            "last_request_at": route.last_request_at,
            "versions": {
                str(n): {
                    "weight": v.weight,
                    "pinned_only": v.pinned_only,
                    "instances": [i.to_dict() for i in v.pool.instances],
                    "desired": v.pool.desired,
                    "window": v.window.figures(now - span_s, now).to_dict(),
                    "total_requests": v.window.total_requests,
                    "total_errors": v.window.total_errors,
                }
                for n, v in sorted(route.versions.items())
            },
        }


def _pinned_version(pin: str) -> int | None:
    if not pin:
        return None
    digits = pin[1:] if pin[:1] in ("v", "V") else pin
    return int(digits) if digits.isdigit() else None


def _json_error(status: int, message: str, hint: str | None) -> Reply:
    return status, {"Content-Type": JSON_TYPE}, json.dumps({"error": message, "hint": hint}).encode()
