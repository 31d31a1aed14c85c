"""What every part of the client API shares: turning a backend argument into a Backend, and the
cadence at which watchers reconcile."""

from __future__ import annotations

import time

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..config import current_config

BackendArg = Backend | str | None


def resolve_backend(backend: BackendArg = None) -> Backend:
    if isinstance(backend, Backend):
        return backend
    return get_backend(backend, current_config())


class Cadence:
    """When a watcher (widget, sidebar topic) reconciles: at most every ``backend.reconcile_interval``
    seconds, the first time at once. Reads never write, so this is what moves a watched job or
    rollout along on backends whose work happens client-side."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.backend.reconcile_interval:
            return False
        self._last = now
        return True
