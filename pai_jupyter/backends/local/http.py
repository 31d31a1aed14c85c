"""A small JSON-over-HTTP client that turns server errors back into PaiErrors.

With ``reconnect`` (the local backend gives one that re-reads the control
plane's runtime file), the client survives a control-plane restart: a request
that reached no server (connection refused) or that the server refused for its
token (401: the restarted server has a new one) is sent again to the address
and token found now. A read cut off mid-way is sent again too. A write cut off
mid-way (the server may have done it before it went away) is not repeated: the
error says that it may or may not have happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
import urllib3.exceptions

from ...errors import BackendUnavailable, error_from_json

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
Reconnect = Callable[[], tuple[str, str]]  # -> (base URL, token) of the server running now


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached a server (refused, or no connection made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


class JsonClient:
    def __init__(
        self, base_url: str, token: str, what: str, timeout: float = 30.0, reconnect: Reconnect | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.timeout = timeout
        self.reconnect = reconnect
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def _refresh(self) -> bool:
        """Point at the server running now; False when there is no reconnect or nothing changed."""
        if self.reconnect is None:
            return False
        url, token = self.reconnect()
        url = url.rstrip("/")
        header = f"token {token}"
        changed = url != self.base_url or header != self.session.headers.get("Authorization")
        self.base_url = url
        self.session.headers["Authorization"] = header
        self.session.close()  # pooled connections to the old server are dead
        return changed

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        method = method.upper()
        try:
            try:
                resp = self._send(method, path, kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                retry = never_sent(exc) or (method in IDEMPOTENT and isinstance(exc, requests.ConnectionError))
                if not retry or not self._retry_ready(exc):
                    raise
                resp = self._send(method, path, kwargs)
            if resp.status_code == 401 and self.reconnect is not None and self._refresh():
                resp = self._send(method, path, kwargs)  # refused for its token: nothing was done
        except requests.ConnectionError as exc:
            if method not in IDEMPOTENT and not never_sent(exc):
                raise BackendUnavailable(
                    f"the {self.what} went away while {method} {path} was in flight: "
                    "it may or may not have been done",
                    "check its state (e.g. `jupyter pai jobs list`) before trying again",
                ) from None
            raise BackendUnavailable(
                f"cannot reach the {self.what} at {self.base_url}",
                "is it running? `jupyter pai server` starts it",
            ) from None
        except requests.Timeout:
            raise BackendUnavailable(
                f"the {self.what} at {self.base_url} did not answer in {self.timeout:g}s"
            ) from None
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"error": f"{method} {path} failed with HTTP {resp.status_code}: {resp.text[:200]}"}
            raise error_from_json(body, resp.status_code)
        return resp.json() if resp.content else None

    def _retry_ready(self, exc: requests.RequestException) -> bool:
        """After a failed send: find the server running now (the same address too: a control
        plane restarted on a fixed port). False when there is none to find."""
        if self.reconnect is None:
            return False
        try:
            self._refresh()
        except BackendUnavailable:
            return False
        return True

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def close(self) -> None:
        self.session.close()
