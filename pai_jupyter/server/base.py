"""The base handler: authentication, error mapping and running the (blocking) client API.

Every handler of the extension derives from ``PaiHandler``. Errors map to HTTP
statuses in one place: a ``PaiError`` becomes its ``http_status`` with
``PaiError.to_json()`` as the body; anything else is a bug and keeps its
traceback in the server log (500).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..backends.base import Backend
from ..errors import PaiError, ValidationError
from .context import PaiContext

T = TypeVar("T")

# The resource name the Jupyter authorizer sees for every pai endpoint.
AUTH_RESOURCE = "pai"


class PaiHandler(ExtensionHandlerMixin, APIHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE

    @property
    def pai(self) -> PaiContext:
        return self.settings["pai_context"]  # type: ignore[no-any-return]

    def backend(self) -> Backend:
        """The backend this request addresses: ``?backend=NAME`` or the configured one."""
        return self.pai.backend(self.get_query_argument("backend", None) or None)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking client-API call off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.pai.executor, lambda: fn(*args, **kwargs))

    # -- input -------------------------------------------------------------------
    def int_arg(self, name: str, default: int | None = None, minimum: int = 0) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError(f"{name} must be an integer, got {raw!r}", f"e.g. ?{name}=10") from None
        if value < minimum:
            raise ValidationError(f"{name} must be >= {minimum}, got {value}")
        return value

    def float_arg(
        self, name: str, what: str = "a number (seconds since the epoch)", example: str = "1700000000.5"
    ) -> float | None:
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return None
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(f"{name} must be {what}, got {raw!r}", f"e.g. ?{name}={example}") from None

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError:
            raise ValidationError("the request body is not valid JSON", "send a JSON object") from None
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", 'e.g. {"version": 1}')
        return body

    def send(self, data: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    # -- errors ------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PaiError):
            self.set_status(exc.http_status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.to_json()))
            return
        if isinstance(exc, web.HTTPError):
            message = exc.reason or self._reason
            body: dict[str, Any] = {"error": message, "hint": None, "type": "HTTPError"}
        else:
            body = {"error": self._reason, "hint": "see the Jupyter server log", "type": "InternalError"}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, PaiError):
            self.log.info("pai: %s %s -> %s %s", self.request.method, self.request.uri, value.http_status, value)
            return
        super().log_exception(typ, value, tb)
