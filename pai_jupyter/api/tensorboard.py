"""How to open a job's TensorBoard logs (``PAI_OUTPUT_TENSORBOARD``), on either backend.

A script writes its logs where ``PAI_OUTPUT_TENSORBOARD`` points, as the PAI SDK's
docs ask (docs/source/user-guide/training/tensorboard.rst: ``SummaryWriter(log_dir=
os.environ.get("PAI_OUTPUT_TENSORBOARD"))``). Locally that folder is in the local
storage: the answer is the ``tensorboard --logdir`` command, and the URL of a
TensorBoard already serving it. On PAI the folder is the run's OSS
``tensorboard/`` prefix; PAI serves it through a TensorBoard application
(``pai.tensorboard.TensorBoard.create(uri)``, pai/tensorboard.py), which costs money
and is therefore not started for the user: the command says how.
"""

from __future__ import annotations

import os
import shlex
import time
from typing import Any

from ..records import JobRecord
from ..storage.uri import OssUri

_SCAN_EVERY = 2.0  # seconds between process scans (job lists ask per job)
_scan: tuple[float, list[tuple[str, str]]] = (0.0, [])


def running_tensorboards() -> list[tuple[str, str]]:
    """``(logdir, url)`` of each TensorBoard process on this machine (a cached process scan)."""
    global _scan
    stamp, found = _scan
    if time.monotonic() - stamp < _SCAN_EVERY:
        return found
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            argv = proc.info["cmdline"] or []
        except psutil.Error:
            continue
        if not any(os.path.basename(a).startswith("tensorboard") for a in argv[:3]):
            continue
        found.extend(_parse_tensorboard_argv(argv))
    _scan = (time.monotonic(), found)
    return found


def _parse_tensorboard_argv(argv: list[str]) -> list[tuple[str, str]]:
    """TensorBoard's own flags: ``--logdir DIR`` (or ``--logdir=DIR``), ``--port`` (6006), ``--host``."""
    opts: dict[str, str] = {}
    for i, arg in enumerate(argv):
        for flag in ("--logdir", "--port", "--host", "--bind_all"):
            if arg == flag and i + 1 < len(argv):
                opts[flag] = argv[i + 1]
            elif arg.startswith(flag + "="):
                opts[flag] = arg.split("=", 1)[1]
    if "--logdir" not in opts:
        return []
    host = opts.get("--host") or "localhost"
    return [(os.path.realpath(opts["--logdir"]), f"http://{host}:{opts.get('--port', '6006')}/")]


def tensorboard_info(record: JobRecord, local_path: Any = None) -> dict[str, Any] | None:
    """``{"url", "command", "logdir"}`` for a job, or None for one without a TensorBoard channel.

    ``local_path`` maps an ``oss://`` URI to the local backend's folder (``LocalStorage.path_for``);
    without it the logs are on OSS.
    """
    uri = record.outputs.get("tensorboard")
    if not uri:
        return None
    if local_path is not None:
        logdir = str(local_path(OssUri.parse(uri)))
        real = os.path.realpath(logdir)
        url = next(
            (u for d, u in running_tensorboards() if real == d or real.startswith(d.rstrip("/") + "/")), None
        )
        return {"url": url, "command": f"tensorboard --logdir {shlex.quote(logdir)}", "logdir": logdir}
    command = f'python -c "from pai.tensorboard import TensorBoard; print(TensorBoard.create({uri!r}).app_uri)"'
    return {"url": None, "command": command, "logdir": uri}


def tensorboard_text(info: dict[str, Any] | None, job_id: str) -> str:
    """What ``jupyter pai jobs tensorboard ID`` prints."""
    if info is None:
        return f"Job {job_id} has no TensorBoard channel (it was submitted before pai-jupyter gave jobs one)."
    lines = [f"TensorBoard logs of {job_id}: {info['logdir']}"]
    if info["url"]:
        lines.append(f"Open {info['url']} (a TensorBoard on this machine serves them).")
    if info["logdir"].startswith("oss://"):
        lines.append(
            "Open them in the PAI console (Training > TensorBoard), or start a PAI TensorBoard app"
            " with the PAI SDK (it is billed while it runs):"
        )
    else:
        lines.append("Serve them with:")
    lines.append(f"  {info['command']}")
    return "\n".join(lines)
