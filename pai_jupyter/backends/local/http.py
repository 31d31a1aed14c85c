"""A small JSON-over-HTTP client that turns server errors back into PaiErrors."""

from __future__ import annotations

from typing import Any

import requests

from ...errors import BackendUnavailable, error_from_json


class JsonClient:
    def __init__(self, base_url: str, token: str, what: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, **kwargs)
        except requests.ConnectionError:
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

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def close(self) -> None:
        self.session.close()
