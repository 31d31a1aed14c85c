"""``/pai/api/push``: the websocket that pushes changes to the sidebar.

The browser sends ``{"type": "subscribe", "topics": ["jobs", "job:<id>", ...]}``
(the whole set each time; topics not named are dropped) and receives
``{"topic": ..., "type": ...}`` messages whenever something changed. Each
connection polls its topics through the client API every ``push_interval``
seconds (0.25 s by default), so a reported metric or a traffic change reaches
the panel well within a second without the browser polling. A subscription may
carry ``"interval": <seconds>`` (the sidebar's ``refreshSeconds`` setting) to
push less (or more) often on that connection, within ``MIN_INTERVAL_S`` and
``MAX_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web, websocket

from ..errors import PaiError, ValidationError
from .base import AUTH_RESOURCE
from .context import PaiContext
from .topics import Message, Topic, error_message, make_topic

MAX_TOPICS = 16
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 300.0


class PushHandler(WebSocketMixin, ExtensionHandlerMixin, JupyterHandler, websocket.WebSocketHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE

    topics: dict[str, Topic]
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event
    _interval: float | None = None  # the subscriber's cadence; None: the server's push_interval

    @property
    def pai(self) -> PaiContext:
        return self.settings["pai_context"]  # type: ignore[no-any-return]

    async def pre_get(self) -> None:
        authorized = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)
        )
        if not authorized:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.topics = {}
        self._wake = asyncio.Event()
        self._task = asyncio.ensure_future(self._loop())

    def on_message(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
            if not isinstance(data, dict) or data.get("type") != "subscribe":
                raise ValidationError("push messages must be {'type': 'subscribe', 'topics': [...]}")
            keys = data.get("topics")
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValidationError("'topics' must be a list of strings", "e.g. ['jobs', 'job:<id>']")
            if len(keys) > MAX_TOPICS:
                raise ValidationError(f"at most {MAX_TOPICS} topics per connection")
            interval = _interval(data.get("interval"))
            backend = self.pai.backend(data.get("backend") or None)
            topics = {k: self.topics.get(k) or make_topic(k, backend) for k in keys}
        except (ValueError, PaiError) as exc:
            error = exc if isinstance(exc, PaiError) else ValidationError("push message is not valid JSON")
            self._send(error_message(None, error))
            return
        self.topics = topics
        self._interval = interval
        self._wake.set()

    def on_close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _send(self, message: Message) -> bool:
        try:
            self.write_message(json.dumps(message, default=str))
        except websocket.WebSocketClosedError:
            return False
        return True

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            active = [t for t in self.topics.values() if t.due(now)]
            results = await asyncio.gather(
                *(loop.run_in_executor(self.pai.executor, t.poll) for t in active), return_exceptions=True
            )
            for topic, result in zip(active, results, strict=True):
                if isinstance(result, BaseException):
                    self.log.exception("pai push: topic %s failed", topic.key, exc_info=result)
                    topic.finished = True
                    continue
                for message in result:
                    if topic.key in self.topics and not self._send(message):
                        return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval or self.pai.push_interval)
            except asyncio.TimeoutError:
                pass


def _interval(value: Any) -> float | None:
    """The subscription's ``interval`` in seconds, or None when it names none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(
            f"'interval' must be a number of seconds, got {value!r}",
            f"e.g. 1; between {MIN_INTERVAL_S} and {MAX_INTERVAL_S:g}",
        )
    return min(max(float(value), MIN_INTERVAL_S), MAX_INTERVAL_S)
