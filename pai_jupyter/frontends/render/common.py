"""Text helpers shared by the job and service views."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ...durations import format_duration


def age(ts: float, now: float | None = None) -> str:
    return format_duration((now or time.time()) - ts) + " ago"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def transfer_progress(
    write: Callable[[str, bool], None], label: str = "", every: float = 0.2
) -> Callable[[int, int], None]:
    """An upload/download progress callback for text frontends.

    Calls ``write("\\r<label>1.0 / 4.0 MiB (25%)", finished)`` at most every
    ``every`` seconds, and always once when ``done == total`` (``finished`` True).
    """
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] > every or done == total:
            last[0] = now
            pct = 100.0 * done / total if total else 100.0
            write(f"\r{label}{done / 2**20:.1f} / {total / 2**20:.1f} MiB ({pct:.0f}%)", done == total)

    return progress
