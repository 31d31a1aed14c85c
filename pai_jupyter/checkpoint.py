# Over 450 lines on purpose: the checkpoint format, its atomic writes and the resume policy are one unit.
"""``Checkpointer``: atomic checkpoints that survive a preemption at any instant.

Inside a job it needs no arguments: the folder is ``PAI_OUTPUT_CHECKPOINTS``
and the interval ``PAI_CHECKPOINT_INTERVAL`` (seconds), both set by the runner
locally and by DLC (PAI's SDK uses the same names)::

    ckpt = Checkpointer(every_steps=50)
    resumed = ckpt.load_latest()            # None on a fresh start
    start = resumed.step + 1 if resumed else 0
    if resumed:
        model.load_state_dict(resumed.state["model"])
    for step in range(start, steps):
        ...
        if ckpt.should_save(step):
            ckpt.save({"model": model.state_dict(), ...}, step)

A save streams the state to a temporary file while hashing it, fsyncs it,
renames it into place, then rewrites ``manifest.json`` the same way (temp,
fsync, rename) with each checkpoint's step, size and sha256. A reclaim can kill
the process between any two of these steps: a temporary file is never read,
a checkpoint the manifest does not list is never trusted, and a listed one is
only returned when its size and checksum still match (without any manifest,
files are tried newest first and the first that loads wins). Only rank 0
writes; every rank can load. The checksum is what makes this safe on an
OSS-mounted folder on DLC too, where a rename is a copy and not atomic.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .durations import parse_duration
from .errors import ValidationError

__all__ = ["CheckpointInfo", "CheckpointWarning", "Checkpointer", "LoadedCheckpoint", "read_manifest"]

MANIFEST = "manifest.json"
DEFAULT_INTERVAL = 15 * 60.0  # when neither an interval nor a step count is configured
FORMATS = {"torch": ".pt", "pickle": ".pkl", "bytes": ".bin"}
_FILE = re.compile(r"^ckpt-(\d{12})\.(pt|pkl|bin)$")
_CHUNK = 4 * 2**20


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped (torn, corrupt or unlisted)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """One manifest entry."""

    file: str
    step: int
    size: int
    sha256: str
    format: str
    time: float


@dataclass(frozen=True)
class LoadedCheckpoint:
    step: int
    state: Any
    path: Path
    info: CheckpointInfo


class Checkpointer:
    """Save and find checkpoints in one folder; see the module docstring."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        interval: str | float | None = None,
        every_steps: int | None = None,
        keep: int = 3,
        rank: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: seconds for the interval (``time.monotonic``; tests give their own)."""
        directory = directory if directory is not None else os.environ.get("PAI_OUTPUT_CHECKPOINTS")
        if not directory:
            raise ValidationError(
                "Checkpointer has no folder: PAI_OUTPUT_CHECKPOINTS is not set",
                "run inside a job (the runner sets it) or pass Checkpointer('/path/to/checkpoints')",
            )
        if interval is None and os.environ.get("PAI_CHECKPOINT_INTERVAL"):
            interval = os.environ["PAI_CHECKPOINT_INTERVAL"]
        self.interval = parse_duration(interval, "checkpoint interval") if interval is not None else None
        if self.interval is not None and self.interval <= 0:
            raise ValidationError("checkpoint interval must be positive")
        if every_steps is not None and every_steps < 1:
            raise ValidationError(f"every_steps must be >= 1, got {every_steps}")
        if self.interval is None and every_steps is None:
            self.interval = DEFAULT_INTERVAL
        if keep < 1:
            raise ValidationError(f"keep must be >= 1, got {keep}", "keep at least the latest checkpoint")
        self.directory = Path(directory)
        self.every_steps = every_steps
        self.keep = keep
        self.rank = _rank() if rank is None else rank
        self._clock = clock
        self._last_save = clock()
        self._pending: threading.Thread | None = None
        self._error: BaseException | None = None
        self._done: CheckpointInfo | None = None
        if self.is_writer:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temps()

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes; every rank can read."""
        return self.rank == 0

    # -- when ------------------------------------------------------------------
    def should_save(self, step: int) -> bool:
        """True every ``every_steps`` steps, or once ``interval`` seconds passed since the last save.

        In distributed jobs prefer ``every_steps``: it is the same on every rank,
        so a state_dict that needs a collective is gathered by all ranks at once.
        """
        if self.every_steps is not None and step > 0 and step % self.every_steps == 0:
            return True
        return self.interval is not None and self._clock() - self._last_save >= self.interval

    # -- save ------------------------------------------------------------------
    def save(
        self, state: Any, step: int, format: str | None = None, *, background: bool = False
    ) -> CheckpointInfo | None:
        """Write ``state`` as the checkpoint of ``step``; ``None`` on ranks other than 0.

        With ``background=True`` the state is copied to CPU memory (tensors cloned,
        pickle/bytes serialised) and written by a thread while training goes on;
        it returns ``None`` and ``wait()`` gives the result. One save is in flight
        at a time: the next ``save`` (or ``wait``, or interpreter exit) waits for it
        and re-raises its error, if any.
        """
        self._last_save = self._clock()
        if not self.is_writer:
            return None
        self.wait()
        fmt = format or _auto_format(state)
        if fmt not in FORMATS:
            raise ValidationError(f"checkpoint format {fmt!r} is unknown", f"use one of {', '.join(FORMATS)}")
        if fmt == "bytes" and not isinstance(state, (bytes, bytearray, memoryview)):
            raise ValidationError(f"format='bytes' needs bytes, got {type(state).__name__}")
        step = int(step)
        if not background:
            return self._write(state, step, fmt, serialized=False)
        if fmt == "torch":
            snapshot, serialized = _cpu_copy(state), False
        elif fmt == "pickle":
            snapshot, serialized = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), True
        else:
            snapshot, serialized = bytes(state), True
        # Not a daemon: a script that ends right after save() still gets its checkpoint written.
        self._pending = threading.Thread(
            target=self._write_in_background, args=(snapshot, step, fmt, serialized), name=f"pai-checkpoint-{step}"
        )
        self._pending.start()
        return None

    def wait(self) -> CheckpointInfo | None:
        """Wait for a background save; return its entry, or raise what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.join()
        error, self._error = self._error, None
        if error is not None:
            raise error
        done, self._done = self._done, None
        return done

    def _write_in_background(self, state: Any, step: int, fmt: str, serialized: bool) -> None:
        try:
            self._done = self._write(state, step, fmt, serialized)
        except BaseException as exc:  # handed to the training thread by wait()
            self._error = exc

    def _write(self, state: Any, step: int, fmt: str, serialized: bool) -> CheckpointInfo:
        name = f"ckpt-{step:012d}{FORMATS[fmt]}"
        with _durable_file(self.directory / name, ".ckpt-") as raw:
            writer = _HashingWriter(raw)
            _serialize(state, "bytes" if serialized else fmt, writer)
        info = CheckpointInfo(name, step, writer.size, writer.sha256.hexdigest(), fmt, time.time())
        listed = self._listed()
        # A resume from an older checkpoint abandons the later ones: this step replaces them.
        entries = [e for e in listed if e.step < step]
        abandoned = [e for e in listed if e.step >= step and e.file != name]
        entries.append(info)
        dropped, entries = abandoned + entries[: -self.keep], entries[-self.keep :]
        self._write_manifest(entries)
        for old in dropped:
            with contextlib.suppress(OSError):
                (self.directory / old.file).unlink()
        return info

    # -- load ------------------------------------------------------------------
    def checkpoints(self) -> list[CheckpointInfo]:
        """The manifest's entries, oldest first (not verified)."""
        return self._listed()

    def load_latest(self, map_location: Any = "cpu", weights_only: bool | None = None) -> LoadedCheckpoint | None:
        """The newest checkpoint whose size and sha256 match the manifest, or ``None``.

        Torn, corrupt or missing ones are skipped with a ``CheckpointWarning``.
        ``map_location`` and ``weights_only`` go to ``torch.load`` for torch checkpoints.
        """
        if not self.directory.is_dir():
            return None
        manifest = read_manifest(self.directory)
        if manifest is None:
            return self._load_unlisted(map_location, weights_only)
        listed = {e.file for e in manifest}
        for path in sorted(self.directory.glob("ckpt-*")):
            if path.name not in listed and _FILE.match(path.name):
                _warn(f"skipping checkpoint {path.name}: not in the manifest (the save did not finish)")
        for info in reversed(manifest):
            path = self.directory / info.file
            problem = _verify(path, info)
            if problem:
                _warn(f"skipping checkpoint {info.file} (step {info.step}): {problem}")
                continue
            try:
                state = _deserialize(path, info.format, map_location, weights_only)
            except Exception as exc:  # checksum matched but the reader still failed: skip, keep going
                _warn(f"skipping checkpoint {info.file} (step {info.step}): it does not load: {exc}")
                continue
            return LoadedCheckpoint(info.step, state, path, info)
        return None

    def _load_unlisted(self, map_location: Any, weights_only: bool | None) -> LoadedCheckpoint | None:
        """No readable manifest: try the files newest first, trusting only ones that load."""
        files = sorted((p for p in self.directory.iterdir() if _FILE.match(p.name)), reverse=True)
        if files:
            _warn(f"{MANIFEST} in {self.directory} is missing or unreadable; trying checkpoints by name")
        for path in files:
            match = _FILE.match(path.name)
            assert match is not None
            fmt = {v: k for k, v in FORMATS.items()}["." + match.group(2)]
            try:
                state = _deserialize(path, fmt, map_location, weights_only)
            except Exception as exc:
                _warn(f"skipping checkpoint {path.name}: it does not load: {exc}")
                continue
            stat = path.stat()
            info = CheckpointInfo(path.name, int(match.group(1)), stat.st_size, "", fmt, stat.st_mtime)
            return LoadedCheckpoint(info.step, state, path, info)
        return None

    # -- manifest ----------------------------------------------------------------
    def _listed(self) -> list[CheckpointInfo]:
        return read_manifest(self.directory) or []

    def _write_manifest(self, entries: list[CheckpointInfo]) -> None:
        body = json.dumps({"version": 1, "checkpoints": [asdict(e) for e in entries]}, indent=1).encode()
        with _durable_file(self.directory / MANIFEST, ".manifest-") as fh:
            fh.write(body)

    def _remove_stale_temps(self) -> None:
        """Temporary files left by a process killed mid-save are never valid."""
        for path in self.directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()

    def __repr__(self) -> str:
        when = f"every {self.every_steps} steps" if self.every_steps else ""
        if self.interval is not None:
            when += (" or " if when else "") + f"every {self.interval:g}s"
        return f"<Checkpointer {self.directory} {when}, keep {self.keep}, rank {self.rank}>"


def read_manifest(directory: str | os.PathLike[str]) -> list[CheckpointInfo] | None:
    """The manifest's entries oldest first; ``[]`` when there is none yet, ``None`` when unreadable."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        has_files = Path(directory).is_dir() and any(_FILE.match(p.name) for p in Path(directory).iterdir())
        return None if has_files else []
    try:
        data = json.loads(path.read_text())
        entries = [CheckpointInfo(**e) for e in data["checkpoints"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sorted(entries, key=lambda e: e.step)


def latest_valid_entry(directory: str | os.PathLike[str]) -> CheckpointInfo | None:
    """The newest listed checkpoint whose file exists with the listed size (no checksum: cheap)."""
    for info in reversed(read_manifest(directory) or []):
        path = Path(directory) / info.file
        if path.is_file() and path.stat().st_size == info.size:
            return info
    return None


class _HashingWriter:
    """A file wrapper that hashes and counts what passes through, so nothing is read twice."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.sha256.update(view)
        self.size += len(view)
        return self.raw.write(view)

    def flush(self) -> None:
        self.raw.flush()


def _auto_format(state: Any) -> str:
    if isinstance(state, (bytes, bytearray, memoryview)):
        return "bytes"
    # A state holding tensors means the script imported torch; without torch, pickle is equivalent
    # and saves importing it (seconds) just to write a dict.
    return "torch" if "torch" in sys.modules else "pickle"


def _cpu_copy(obj: Any) -> Any:
    """A snapshot a background thread can write while training changes the originals."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        copied = copy.copy(obj)  # keeps the type and attributes, e.g. a state_dict's _metadata
        for key, value in obj.items():
            copied[key] = _cpu_copy(value)
        return copied
    if isinstance(obj, list):
        return [_cpu_copy(v) for v in obj]
    if isinstance(obj, tuple):
        items = [_cpu_copy(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    return copy.deepcopy(obj)


def _serialize(state: Any, fmt: str, writer: _HashingWriter) -> None:
    if fmt == "bytes":
        view = memoryview(state).cast("B")
        for start in range(0, len(view), _CHUNK):
            writer.write(view[start : start + _CHUNK])
    elif fmt == "pickle":
        pickle.dump(state, writer, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
    else:
        import torch

        torch.save(state, writer)  # type: ignore[arg-type]


def _deserialize(path: Path, fmt: str, map_location: Any, weights_only: bool | None) -> Any:
    if fmt == "bytes":
        return path.read_bytes()
    if fmt == "pickle":
        with open(path, "rb") as fh:
            return pickle.load(fh)
    import torch

    kwargs: dict[str, Any] = {"map_location": map_location}
    if weights_only is not None:
        kwargs["weights_only"] = weights_only
    return torch.load(path, **kwargs)


def _verify(path: Path, info: CheckpointInfo) -> str | None:
    try:
        size = path.stat().st_size
    except OSError:
        return "the file is missing"
    if size != info.size:
        return f"size {size} bytes, the manifest says {info.size} (torn write)"
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != info.sha256:
        return "sha256 does not match the manifest (corrupt)"
    return None


@contextlib.contextmanager
def _durable_file(path: Path, prefix: str) -> Iterator[BinaryIO]:
    """Write ``path`` all or nothing: a temporary file in its folder, fsynced, renamed over it.

    The temporary file (``<prefix>*.tmp``) is removed if writing fails.
    """
    from .jobenv import on_oss_mount

    oss = on_oss_mount(path.parent)  # a DLC OSS mount: close() commits, fsync would fail
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if not oss:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not oss:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the folder)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rank() -> int:
    from .jobenv import worker_rank

    try:
        return worker_rank()  # RANK, or TF_CONFIG on TensorFlow jobs
    except ValueError:
        raise ValidationError(
            f"RANK={os.environ.get('RANK')!r} is not an integer", "the launcher sets RANK to the worker index"
        ) from None


def _warn(message: str) -> None:
    warnings.warn(message, CheckpointWarning, stacklevel=3)
