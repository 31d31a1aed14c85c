"""Run the local control plane in the foreground (``jupyter pai server``)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config import PaiConfig
from ..errors import ConflictError
from .app import STOP_EVENT, ControlPlane
from .private import open_private, private_dir, private_umask
from .runtime import read_runtime, remove_runtime, runtime_file, write_runtime

log = logging.getLogger("pai_jupyter.controlplane")


def running_server(home: Path) -> dict | None:
    """The runtime info of a live control plane for ``home``, else None."""
    import requests

    info = read_runtime(home)
    if not info:
        return None
    try:
        resp = requests.get(
            f"{info['url']}/api/v1/health", headers={"Authorization": f"token {info['token']}"}, timeout=2
        )
        if resp.ok:
            return info
    except requests.RequestException:
        pass
    return None


async def _serve(config: PaiConfig, ip: str, port: int, ready: asyncio.Event | None = None) -> None:
    home = config.home_path
    private_umask()  # the database, its -wal/-shm, logs and backups are created 0600
    private_dir(home)
    lock = _lock(home)
    # Taken out of this process's environment so that no child (job, model instance) inherits it.
    token = os.environ.pop("PAI_JUPYTER_SERVER_TOKEN", None) or secrets.token_urlsafe(32)
    try:
        plane = ControlPlane(
            home,
            token,
            max_concurrent=config.max_concurrent_jobs,
            default_bucket=config.default_bucket,
            sample_every=config.sample_every,
            advice_window=config.advice_window,
            backup_interval=config.backup_interval,
            backup_keep=config.backup_keep,
            metrics_retention_days=config.metrics_retention_days,
        )
    except BaseException:
        lock.close()
        raise
    runner = web.AppRunner(plane.app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, ip, port, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    host = "127.0.0.1" if ip in ("0.0.0.0", "") else ip
    url = f"http://{host}:{bound}"
    write_runtime(home, {"url": url, "token": token, "pid": os.getpid(), "home": str(home), "ip": ip})
    log.info("pai control plane listening on %s (state in %s, runtime file %s)", url, home, runtime_file(home))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plane.app[STOP_EVENT] = stop
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        remove_runtime(home, os.getpid())
        await runner.cleanup()
        lock.close()
        log.info("pai control plane stopped")


def _lock(home: Path) -> Any:
    """One control plane per state folder, even when two clients race to start one."""
    handle = open_private(home / "server.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConflictError(
            f"another control plane already owns {home}", "stop it with `jupyter pai server stop`"
        ) from None
    return handle


def serve(config: PaiConfig, ip: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM or ``POST /api/v1/shutdown``."""
    home = config.home_path
    if running_server(home):
        info = read_runtime(home) or {}
        raise ConflictError(
            f"a control plane for {home} is already running at {info.get('url')} (pid {info.get('pid')})",
            "stop it with `jupyter pai server stop`, or set PAI_JUPYTER_HOME to use another state folder",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(config, ip or config.server_ip, config.server_port if port is None else port))
