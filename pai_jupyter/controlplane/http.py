"""HTTP helpers every control-plane route module shares."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import ValidationError


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object; ValidationError (400) otherwise."""
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    return body
