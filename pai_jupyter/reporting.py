"""``report(step=..., **metrics)``: the one call a training script makes.

Inside a job the runner sets ``PAI_METRICS_FILE``; ``report`` appends to an
in-memory buffer and a daemon thread writes it out as JSON lines every
``PAI_METRICS_FLUSH`` seconds (default 0.5) and at exit, so a call costs a
dict copy and a lock, never a network round trip. The backend tails the file
(locally the control plane; on DLC the file lives on the OSS-mounted output).
Outside a job ``report`` keeps the values in memory (``reported()``) so a cell
run interactively still works.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .records import MetricPoint

__all__ = ["flush", "report", "reported"]

_lock = threading.Lock()
_buffer: list[str] = []
_local: list[dict[str, Any]] = []
_writer: threading.Thread | None = None
_path: str | None = None


def report(step: int | None = None, **metrics: float) -> None:
    """Record metric values (e.g. ``report(step=10, loss=0.31, accuracy=0.9)``)."""
    values: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"report(): {name}={value!r} is not a number") from None
        if math.isfinite(number):
            values[name] = number
    record = {"ts": time.time(), "step": None if step is None else int(step), "metrics": values}
    path = os.environ.get("PAI_METRICS_FILE")
    if not path:
        _local.append(record)
        return
    if "{rank}" in path:  # DLC: the rank is known only in the pod (RANK, or TF_CONFIG on TFJob)
        from .jobenv import worker_rank

        path = path.replace("{rank}", str(worker_rank()))
    line = json.dumps(record, separators=(",", ":"))
    with _lock:
        _buffer.append(line)
        _ensure_writer(path)


def reported() -> list[dict[str, Any]]:
    """Values reported outside a job (a cell run directly in the kernel)."""
    return list(_local)


def flush() -> None:
    """Write buffered values now (called at exit and by the writer thread)."""
    with _lock:
        if not _buffer or _path is None:
            return
        lines, _buffer[:] = list(_buffer), []
        with open(_path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def _ensure_writer(path: str) -> None:
    global _writer, _path
    if _writer is not None and _path == path:
        return
    _path = path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    interval = float(os.environ.get("PAI_METRICS_FLUSH", "0.5"))
    _writer = threading.Thread(target=_run, args=(interval,), name="pai-report", daemon=True)
    _writer.start()
    atexit.register(flush)


def _run(interval: float) -> None:
    while True:
        time.sleep(interval)
        flush()


def read_lines(
    lines: Iterable[bytes | str],
    worker: int,
    last: tuple[float, int] | None,
    on_malformed: Callable[[], None] | None = None,
) -> tuple[list[MetricPoint], tuple[float, int] | None]:
    """The backends' side of ``report()``: complete JSON lines of one worker as MetricPoints.

    ``steps_per_sec`` is derived from consecutive reported steps, starting from
    ``last`` (ts, step) of the lines read before; returns the points and the new
    ``last``. A malformed line is skipped (``on_malformed`` is called for it).
    """
    from .records import MetricPoint

    points: list[MetricPoint] = []
    for line in lines:
        try:
            record = json.loads(line)
            ts, step = float(record["ts"]), record.get("step")
            values = record.get("metrics", {})
        except (ValueError, KeyError, TypeError):
            if on_malformed is not None:
                on_malformed()
            continue
        for name, value in values.items():
            points.append(MetricPoint(name, float(value), ts, step, worker, "report"))
        if step is not None:
            if last is not None and step > last[1] and ts > last[0]:
                rate = (step - last[1]) / (ts - last[0])
                points.append(MetricPoint("steps_per_sec", rate, ts, step, worker, "derived"))
            last = (ts, int(step))
    return points, last
