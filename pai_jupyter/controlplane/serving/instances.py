# Over 450 lines on purpose: an instance process lifecycle (start, probe, drain, replace) is one unit.
"""Instance processes per version: start, health-check, drain, stop and replace.

An instance is one real process listening on 127.0.0.1:<port>: the built-in
``model_server`` for built-in processors, or the user's command for ``custom``
(with ``LISTENING_PORT``, ``MODEL_PATH`` and the PAI SDK's serving layout of
``container_layout.py``: EAS's custom-container contract minus the container). Each runs in its own session
so stopping it also stops whatever the command started.

A pool keeps ``desired`` instances alive: a process that exits is noticed at
once (a task waits on it) and replaced; one that stops answering its health
check three times in a row is killed and replaced; the gateway marks one that
refused a connection as suspect so no request goes there until a health check
passes again. Instances that fail to start are retried with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..private import child_environ, child_umask
from .container_layout import InstallFailed, custom_launch
from .envconfig import env_overrides
from .procs import free_port, signal_group, tail_lines
from .upstream import Upstream

log = logging.getLogger(__name__)

STARTING, READY, SUSPECT, DRAINING, DEAD = "starting", "ready", "suspect", "draining", "dead"
ROOT = str(Path(__file__).resolve().parents[3])  # the folder holding the pai_jupyter package

EventSink = Callable[[str, int, str, str, dict[str, Any]], None]  # service, version, kind, message, data


class ProbeClient:
    """The health probes' own HTTP client: one pooled aiohttp session for every pool of a control plane."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the control plane's event loop."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30, ttl_dns_cache=None)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# The InstanceConfig fields a person may set (PAI_SERVING_<FIELD> / c.PaiServing.<field>).
INSTANCE_SETTINGS = ("start_timeout_s", "health_interval_s", "health_timeout_s", "drain_timeout_s")


@dataclass
class InstanceConfig:
    start_timeout_s: float = 60.0
    health_interval_s: float = 1.0
    health_timeout_s: float = 2.0
    unhealthy_after: int = 3
    drain_timeout_s: float = 5.0
    stop_grace_s: float = 3.0
    max_backoff_s: float = 30.0

    @classmethod
    def from_env(cls) -> InstanceConfig:
        return env_overrides(cls(), INSTANCE_SETTINGS)


@dataclass
class Instance:
    service: str
    version: int
    index: int
    port: int
    proc: asyncio.subprocess.Process
    log_path: Path
    started_at: float = field(default_factory=time.time)
    ready_at: float | None = None
    state: str = STARTING
    inflight: int = 0
    failed_checks: int = 0
    exit_code: int | None = None
    upstream: Upstream = field(init=False)

    def __post_init__(self) -> None:
        self.upstream = Upstream(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.pid,
            "port": self.port,
            "state": self.state,
            "started_at": self.started_at,
            "ready_at": self.ready_at,
            "inflight": self.inflight,
        }


@dataclass
class VersionModel:
    """What a pool needs to start an instance of one version."""

    service: str
    version: int
    processor: str
    model_path: Path
    command: str | None = None
    threads: int = 1
    code_path: Path | None = None  # custom: --code, shown at /ml/usercode (container_layout.py)
    requirements: list[str] = field(default_factory=list)  # custom: installed before the command
    max_batch_size: int | None = None  # batching (built-in processors); None: off
    max_batch_timeout_ms: int | None = None


class StartFailed(Exception):
    pass


class VersionPool:
    def __init__(
        self,
        model: VersionModel,
        home: Path,
        session: aiohttp.ClientSession,
        config: InstanceConfig,
        events: EventSink,
        registry: InstanceRegistry | None = None,
    ) -> None:
        self.model = model
        self.home = home
        self.session = session
        self.config = config
        self.events = events
        self.registry = registry
        self.instances: list[Instance] = []
        self.desired = 0
        self.last_error: str | None = None
        self._counter = itertools.count(1)
        self._rr = itertools.count()
        self._changed = asyncio.Event()
        self._failures = 0
        self._next_start_at = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._layout_note: str | None = None

    # -- routing --------------------------------------------------------------
    def ready(self) -> list[Instance]:
        return [i for i in self.instances if i.state == READY]

    def pick(self, exclude: Instance | None = None) -> Instance | None:
        ready = [i for i in self.instances if i.state == READY and i is not exclude]
        if not ready:
            return None
        return ready[next(self._rr) % len(ready)]

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.state in (STARTING, READY, SUSPECT)]

    def mark_suspect(self, inst: Instance) -> None:
        if inst.state == READY:
            inst.state = SUSPECT
            self.events(
                self.model.service,
                self.model.version,
                "instance",
                f"instance {inst.index} (pid {inst.pid}) refused a request; routing around it",
                {"pid": inst.pid, "port": inst.port},
            )

    async def wait_ready(self, timeout: float) -> Instance | None:
        """An instance to route to, waiting up to ``timeout`` seconds for one to start."""
        deadline = time.monotonic() + timeout
        while True:
            inst = self.pick()
            if inst is not None:
                return inst
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    # -- lifecycle ------------------------------------------------------------
    async def scale_to(self, n: int, wait: bool = False) -> None:
        self.desired = max(0, n)
        self.reconcile()
        if wait and n > 0:
            await self.wait_started(self.config.start_timeout_s)

    async def wait_started(self, timeout: float) -> None:
        """Wait until ``desired`` instances are ready; StartFailed when the first ones cannot start."""
        deadline = time.monotonic() + timeout
        while len(self.ready()) < self.desired:
            if self._failures and not self.ready():
                raise StartFailed(self.last_error or "the instance exited while starting")
            if time.monotonic() > deadline:
                raise StartFailed(self.last_error or f"no instance was ready within {timeout:g}s")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)

    def reconcile(self) -> None:
        """Start or stop instances until ``desired`` are live (starts are rate-limited after failures)."""
        if self._closed:
            return
        live = self.live()
        if len(live) < self.desired and time.monotonic() >= self._next_start_at:
            for _ in range(self.desired - len(live)):
                self._spawn_task(self._start_one())
        elif len(live) > self.desired:
            # Stop the least useful first: starting, then suspect, then the newest ready ones.
            order = {STARTING: 0, SUSPECT: 1, READY: 2}
            extra = sorted(live, key=lambda i: (order[i.state], -i.index))[: len(live) - self.desired]
            for inst in extra:
                self._spawn_task(self._retire(inst, "scaled in"))

    async def close(self) -> None:
        self._closed = True
        self.desired = 0
        await asyncio.gather(*(self._stop(i) for i in list(self.instances)), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        self._changed.set()

    # -- health ---------------------------------------------------------------
    async def check(self) -> None:
        """One health round: probe ready/suspect instances, kill hung ones, replace missing ones."""
        probes = [i for i in self.instances if i.state in (READY, SUSPECT)]
        results = await asyncio.gather(*(self._probe(i) for i in probes), return_exceptions=True)
        for inst, ok in zip(probes, results, strict=True):
            if inst.state not in (READY, SUSPECT):
                continue
            if ok is True:
                if inst.state == SUSPECT:
                    inst.state = READY
                    self._changed.set()
                inst.failed_checks = 0
                continue
            inst.failed_checks += 1
            if inst.state == READY and inst.failed_checks >= 1:
                inst.state = SUSPECT
            if inst.failed_checks >= self.config.unhealthy_after:
                self.events(
                    self.model.service,
                    self.model.version,
                    "instance",
                    f"instance {inst.index} (pid {inst.pid}) failed {inst.failed_checks} health checks; replacing it",
                    {"pid": inst.pid, "port": inst.port},
                )
                self._spawn_task(self._stop(inst))
        self.reconcile()

    async def _probe(self, inst: Instance) -> bool:
        path = "/health" if self.model.processor != "custom" else "/"
        try:
            async with self.session.get(
                inst.url + path, timeout=aiohttp.ClientTimeout(total=self.config.health_timeout_s)
            ) as resp:
                await resp.read()
                return resp.status == 200 if self.model.processor != "custom" else resp.status < 500
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    # -- processes ------------------------------------------------------------
    def _spawn_task(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_one(self) -> None:
        inst = await self._launch()
        if inst is None:
            return
        self._spawn_task(self._watch(inst))
        deadline = time.monotonic() + self.config.start_timeout_s
        delay = 0.01
        while inst.state == STARTING:
            if inst.proc.returncode is not None:
                return  # _watch records the failure
            if await self._probe(inst):
                inst.state = READY
                inst.ready_at = time.time()
                self._failures = 0
                self.last_error = None
                self._changed.set()
                self.events(
                    self.model.service,
                    self.model.version,
                    "instance",
                    f"instance {inst.index} ready in {inst.ready_at - inst.started_at:.2f}s (pid {inst.pid})",
                    {"pid": inst.pid, "port": inst.port, "start_s": round(inst.ready_at - inst.started_at, 3)},
                )
                return
            if time.monotonic() > deadline:
                self.last_error = f"instance {inst.index} was not ready within {self.config.start_timeout_s:g}s"
                self._failures += 1
                await self._stop(inst)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    async def _launch(self) -> Instance | None:
        m = self.model
        index = next(self._counter)
        folder = self.home / "serving" / m.service / f"v{m.version}"
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / f"instance-{index}.log"
        port = free_port()
        # User code (custom commands included) never sees the control plane's own token.
        env = child_environ(
            {
                "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p),
                "LISTENING_PORT": str(port),
                "MODEL_PATH": str(m.model_path),
                "PAI_SERVICE_NAME": m.service,
                "PAI_SERVICE_VERSION": str(m.version),
                "PAI_SERVING_THREADS": str(m.threads),
            }
        )
        if m.processor == "custom":
            try:
                launch = await custom_launch(
                    self.home, m.command or "", m.model_path, m.code_path, m.requirements, env, log_path
                )
            except InstallFailed as exc:
                self.last_error = str(exc)
                self._failures += 1
                return None
            argv, cwd, env = launch.argv, launch.cwd, launch.env
            if launch.note and launch.note != self._layout_note:
                self._layout_note = launch.note
                self.events(m.service, m.version, "instance", launch.note, {})
        else:
            argv = [sys.executable, "-m", "pai_jupyter.model_server.server", "--model", str(m.model_path)]
            argv += ["--processor", m.processor, "--port", str(port), "--threads", str(m.threads)]
            if m.max_batch_size is not None:
                argv += ["--max-batch-size", str(m.max_batch_size)]
                argv += ["--max-batch-timeout", str(m.max_batch_timeout_ms)]
            if m.processor == "sklearn":
                # the deploy refused a pickle unless it was trusted (deploy.check_pickle_trust)
                argv.append("--trust-pickle")
            cwd = folder
        with open(log_path, "ab") as out:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=str(cwd),
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                    umask=child_umask(),
                )
            except OSError as exc:
                self.last_error = f"cannot start the instance: {exc.strerror}"
                self._failures += 1
                return None
        inst = Instance(m.service, m.version, index, port, proc, log_path)
        self.instances.append(inst)
        if self.registry:
            self.registry.add(inst)
        return inst

    async def _watch(self, inst: Instance) -> None:
        code = await inst.proc.wait()
        inst.exit_code = code
        was = inst.state
        inst.state = DEAD
        inst.upstream.close()
        if self.registry:
            self.registry.remove(inst)
        if inst in self.instances:
            self.instances.remove(inst)
        self._changed.set()
        if was == DRAINING or self._closed:
            return
        tail = " | ".join(tail_lines(inst.log_path, 3))
        if was == STARTING:
            self._failures += 1
            self.last_error = f"instance exited with code {code} while starting: {tail}"[:500]
            backoff = min(2.0 ** (self._failures - 1), self.config.max_backoff_s)
            self._next_start_at = time.monotonic() + backoff
            message = f"instance {inst.index} failed to start (exit {code}); retry in {backoff:g}s"
        else:
            message = f"instance {inst.index} (pid {inst.pid}) exited with code {code}; replacing it"
        self.events(
            self.model.service,
            self.model.version,
            "instance",
            message,
            {"pid": inst.pid, "exit_code": code, "log_tail": tail[-300:]},
        )
        if was == STARTING and self._next_start_at > time.monotonic():
            self._spawn_task(self._reconcile_later(self._next_start_at - time.monotonic()))
        else:
            self.reconcile()

    async def _reconcile_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.reconcile()

    async def _retire(self, inst: Instance, why: str) -> None:
        """Take the instance out of routing, let its requests finish, then stop it."""
        inst.state = DRAINING
        deadline = time.monotonic() + self.config.drain_timeout_s
        while inst.inflight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self._stop(inst)
        self.events(
            self.model.service, self.model.version, "instance", f"instance {inst.index} stopped ({why})", {}
        )

    async def _stop(self, inst: Instance) -> None:
        inst.state = DRAINING
        if inst.proc.returncode is None:
            signal_group(inst.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(inst.proc.wait(), self.config.stop_grace_s)
            except asyncio.TimeoutError:
                signal_group(inst.pid, signal.SIGKILL)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(inst.proc.wait(), 2.0)
        inst.upstream.close()
        if inst in self.instances:
            self.instances.remove(inst)
        if self.registry:
            self.registry.remove(inst)
        self._changed.set()


class InstanceRegistry:
    """Remembers live instance pids (in SQLite through ``store``) so a crashed control plane's are killed."""

    def __init__(self, add: Callable[[Instance], None], remove: Callable[[Instance], None]) -> None:
        self.add = add
        self.remove = remove
