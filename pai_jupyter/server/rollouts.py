"""The background rollout driver of the Jupyter server extension.

Inside DSW the Jupyter server lives as long as the instance, so it, not a
widget or a kernel, drives every rollout started from this workspace: every
``reconcile_interval`` seconds of the serving face it reads the index of active
rollouts (``active_rollouts``) and reconciles each one this workspace started
(``reconcile_service``: renew the step's lease, gather figures, apply the same
pure gate decision as the local control plane). It also *sees* the others
(``reconcile_service(name, drive=False)``): that writes nothing unless their
lease has run out, in which case it reverts them, as any client that sees the
service does. Backends that drive themselves (the local control plane) have
no ``active_rollouts`` and are skipped.
A failure is logged and retried on the next tick; the lease makes sure a
rollout nobody drives is reverted, not left half-way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .context import PaiContext

log = logging.getLogger("pai_jupyter.server.rollouts")
DEFAULT_INTERVAL = 2.0


class RolloutDriver:
    def __init__(self, context: PaiContext, backend: str | None = None) -> None:
        self.context = context
        self.backend_name = backend
        self._task: asyncio.Task[None] | None = None

    def _serving(self) -> Any:
        serving = self.context.backend(self.backend_name).serving
        return serving if hasattr(serving, "active_rollouts") and hasattr(serving, "reconcile_service") else None

    def interval(self) -> float:
        try:
            serving = self._serving()
        except Exception:  # a backend that cannot be built yet: try again later
            return DEFAULT_INTERVAL
        return float(getattr(serving, "reconcile_interval", DEFAULT_INTERVAL) or DEFAULT_INTERVAL)

    def tick(self) -> list[str]:
        """Reconcile every active rollout once (driving this workspace's); the names driven."""
        serving = self._serving()
        if serving is None:
            return []
        serving.driver_kind = "jupyter server"
        done = []
        for name, origin in serving.active_rollouts().items():
            drive = origin == serving.origin
            try:
                serving.reconcile_service(name, drive=drive)
                if drive:
                    done.append(name)
            except Exception as exc:  # one service's trouble must not stop the others
                log.warning("pai_jupyter: reconciling %s failed: %s", name, str(exc).splitlines()[0][:300])
        return done

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self.context.executor, self.tick)
            except Exception as exc:
                log.warning("pai_jupyter: rollout driver tick failed: %s", str(exc).splitlines()[0][:300])
            await asyncio.sleep(self.interval())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_event_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
