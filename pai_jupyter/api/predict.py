"""Predictions on the wire: the request's encodings, EAS's request signature and the errors.

Shared by ``Service.predict`` on both backends (the local gateway speaks EAS's protocol).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from typing import Any

import requests

from ..errors import RemoteError


class PredictError(RemoteError):
    """A prediction answered with a non-2xx status; ``status`` and ``body`` are the server's."""

    def __init__(self, message: str, hint: str | None, status: int, body: bytes) -> None:
        super().__init__(message, hint, http_status=status)
        self.status = status
        self.body = body


def eas_signature_headers(token: str, body: bytes, path: str, content_type: str) -> dict[str, str]:
    """The headers ``eas-prediction``'s PredictClient sends (reference §3.8)."""
    md5 = hashlib.md5(body).hexdigest()
    date = formatdate(usegmt=True)
    string = f"POST\n{md5}\n{content_type}\n{date}\n{path}".strip()
    digest = hmac.new(token.encode(), string.encode(), hashlib.sha1).digest()
    return {
        "Content-MD5": md5,
        "Date": date,
        "Content-Type": content_type,
        "Authorization": f"EAS {base64.b64encode(digest).decode()}",
    }


def to_json_value(value: Any) -> Any:
    """NumPy arrays and scalars (and nests of them) as plain JSON values."""
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value


def predict_error(name: str, resp: requests.Response) -> PredictError:
    body = resp.content
    message, hint = "", None
    try:
        data = resp.json()
        if isinstance(data, dict):
            message, hint = str(data.get("error") or ""), data.get("hint")
    except ValueError:
        pass
    if not message:
        message = body[:300].decode(errors="replace").strip() or resp.reason or ""
    if resp.status_code in (401, 403):
        hint = hint or "check the token: svc.token() or `jupyter pai services token NAME`"
    elif resp.status_code == 413:
        hint = hint or "the body is over the service's --max-body limit"
    return PredictError(f"{name}: HTTP {resp.status_code}: {message}", hint, resp.status_code, body)
