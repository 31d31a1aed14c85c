"""A closed-loop HTTP load generator (aiohttp) for the serving benchmarks.

``load()`` runs ``concurrency`` clients for ``seconds`` and returns every
response's timing, status and ``X-PAI-Version``; ``BackgroundLoad`` keeps such
clients running in a thread while something else happens (a rollout).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:g}s")


@dataclass
class Sample:
    sent: float
    received: float
    status: int
    version: str | None


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0  # transport errors (no HTTP status)

    @property
    def latencies_ms(self) -> list[float]:
        return [(s.received - s.sent) * 1000 for s in self.samples if s.status == 200]

    def rps(self, seconds: float) -> float:
        return sum(1 for s in self.samples if s.status == 200) / seconds

    def percentile(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        return float(np.percentile(values, q)) if values else float("nan")

    @property
    def failed(self) -> int:
        return self.errors + sum(1 for s in self.samples if s.status != 200)


async def _load(
    url: str,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
    body: bytes,
    stop: threading.Event | None = None,
) -> LoadResult:
    import aiohttp

    result = LoadResult()
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline and not (stop and stop.is_set()):
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        result.samples.append(
                            Sample(sent, time.perf_counter(), resp.status, resp.headers.get("X-PAI-Version"))
                        )
                except aiohttp.ClientError:
                    result.errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def load(url: str, headers: dict[str, str], concurrency: int, seconds: float, *, body: bytes) -> LoadResult:
    return asyncio.run(_load(url, headers, concurrency, seconds, body))


class BackgroundLoad:
    """Steady closed-loop load in a thread until stopped; samples carry wall-clock times."""

    def __init__(self, url: str, headers: dict[str, str], *, body: bytes, concurrency: int = 4) -> None:
        self.stop = threading.Event()
        self.result = LoadResult()
        self.offset = time.time() - time.perf_counter()
        self.thread = threading.Thread(
            target=lambda: setattr(
                self, "result", asyncio.run(_load(url, headers, concurrency, 3600, body, self.stop))
            ),
            daemon=True,
        )

    def __enter__(self) -> BackgroundLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)

    def wall(self, perf: float) -> float:
        return perf + self.offset
