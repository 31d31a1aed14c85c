"""What every part of the client API shares: turning a backend argument into a Backend."""

from __future__ import annotations

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..config import current_config

BackendArg = Backend | str | None


def resolve_backend(backend: BackendArg = None) -> Backend:
    if isinstance(backend, Backend):
        return backend
    return get_backend(backend, current_config())
