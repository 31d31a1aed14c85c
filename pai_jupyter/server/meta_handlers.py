"""``/pai/api/info``: what the sidebar shows in its header (version, backend)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .._version import __version__
from ..backends.registry import available_backends
from .base import PaiHandler


class InfoHandler(PaiHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send(
            {
                "version": __version__,
                "backend": self.pai.config.backend,
                "backends": sorted(available_backends()),
                "push_interval": self.pai.push_interval,
            }
        )
