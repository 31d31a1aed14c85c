"""Process helpers for instances: ports, process groups, log tails, orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path


def kill_orphan(pid: int, started: float | None) -> bool:
    """Kill the process group of ``pid`` if it is still the process we started."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 1.0:
            return False
    except psutil.Error:
        return False
    signal_group(pid, signal.SIGKILL)
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def tail_lines(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
