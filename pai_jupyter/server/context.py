"""The long-lived objects the extension builds once and hands to every handler."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..config import PaiConfig


class PaiContext:
    """Backends by name (built lazily: the local one starts the control plane on first use)
    and the thread pool that runs the blocking client API off the event loop."""

    def __init__(self, config: PaiConfig, push_interval: float = 0.25, workers: int = 8) -> None:
        self.config = config
        self.push_interval = push_interval
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pai-api")

    def backend(self, name: str | None = None) -> Backend:
        return get_backend(name, self.config)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
