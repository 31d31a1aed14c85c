"""Every endpoint of the extension needs the Jupyter server's authentication (the template's check_auth, as a test)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_server.serverapp import _has_tornado_web_authenticated
from tornado import web
from tornado.httpclient import HTTPClientError

from pai_jupyter.server.extension import PaiExtension
from pai_jupyter.server.push import PushHandler


def _implemented(handler: type[web.RequestHandler]) -> dict[str, Any]:
    methods = {}
    for name in handler.SUPPORTED_METHODS:
        method = getattr(handler, name.lower())
        if method is not web.RequestHandler._unimplemented_method:
            methods[name] = method
    return methods


def _chain(method: Any) -> list[str]:
    names = []
    while method is not None:
        code = getattr(method, "__code__", None)
        if code is not None:
            names.append(code.co_qualname)
        method = getattr(method, "__wrapped__", None)
    return names


def test_every_handler_method_is_authenticated_and_authorized() -> None:
    missing: list[str] = []
    for pattern, handler in PaiExtension.handlers:
        for verb, method in _implemented(handler).items():
            if handler is PushHandler:
                # Websockets: @ws_authenticated (no login redirect), authorization in pre_get.
                if getattr(method, "__allow_unauthenticated", True) is not False:
                    missing.append(f"{verb} {pattern}: no @ws_authenticated")
                continue
            if verb in ("HEAD", "OPTIONS") and getattr(method, "__qualname__", "").startswith(
                ("APIHandler", "JupyterHandler")
            ):
                continue  # CORS preflight and HEAD from the Jupyter base classes
            if not _has_tornado_web_authenticated(method):
                missing.append(f"{verb} {pattern}: no @web.authenticated")
            if not any(name.startswith("authorized") for name in _chain(method)):
                missing.append(f"{verb} {pattern}: no @authorized")
    assert not missing, "\n".join(missing)
    assert len(PaiExtension.handlers) >= 15


ENDPOINTS = [
    ("GET", "pai/api/info"),
    ("GET", "pai/api/jobs"),
    ("GET", "pai/api/jobs/j-1"),
    ("GET", "pai/api/jobs/j-1/metrics"),
    ("GET", "pai/api/jobs/j-1/logs"),
    ("GET", "pai/api/jobs/j-1/events"),
    ("GET", "pai/api/jobs/j-1/provenance"),
    ("POST", "pai/api/jobs/j-1/stop"),
    ("GET", "pai/api/services"),
    ("GET", "pai/api/services/s1"),
    ("GET", "pai/api/services/s1/metrics"),
    ("GET", "pai/api/services/s1/events"),
    ("POST", "pai/api/services/s1/rollout/pause"),
    ("POST", "pai/api/services/s1/rollback"),
]


@pytest.mark.parametrize("token", [None, "token not-the-token"])
async def test_requests_without_the_server_token_are_refused(jp_fetch: Any, token: str | None) -> None:
    headers = {"Authorization": token or ""}
    for method, path in ENDPOINTS:
        body = json.dumps({"version": 1}) if method == "POST" else None
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch(path, method=method, body=body, headers=headers)
        assert err.value.code == 403, f"{method} {path} gave {err.value.code}"


async def test_push_socket_without_the_server_token_is_refused(jp_ws_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch("pai", "api", "push", headers={"Authorization": ""})
    assert err.value.code == 403


async def test_the_info_endpoint_answers_with_the_token(jp_fetch: Any) -> None:
    response = await jp_fetch("pai", "api", "info")
    info = json.loads(response.body)
    assert info["backend"] == "local" and "local" in info["backends"]
    assert info["push_interval"] == pytest.approx(0.1)


async def test_push_socket_accepts_the_token_in_the_query_as_browsers_send_it(
    jp_ws_fetch: Any, jp_serverapp: Any
) -> None:
    """Browsers cannot set headers on websockets; JupyterLab appends ?token= as for kernel sockets."""
    token = jp_serverapp.identity_provider.token
    ws = await jp_ws_fetch("pai", "api", "push", headers={"Authorization": ""}, params={"token": token})
    try:
        await ws.write_message(json.dumps({"type": "subscribe", "topics": ["weather"]}))
        reply = json.loads(await ws.read_message())
        assert reply["type"] == "error" and "weather" in reply["error"]
    finally:
        ws.close()
