"""A child process with a private view of container paths (``/ml``, ``/eas``), without Docker.

PAI's containers see a fixed layout: a training job ``/ml/usercode``,
``/ml/input/data/<channel>``, ``/ml/output/model`` (the PAI Python SDK's
``pai/job/_local_training_job.py``, ``_TrainingJobConfig``), a custom serving
container ``/eas/workspace/model``. Scripts written for PAI hard-code those
paths. Locally each job gets them in a private mount namespace: the launcher
(this file, run as a script, standard library only) enters a new mount
namespace (inside a new user namespace when it is not root), builds a new root
on a tmpfs whose top-level entries are bind mounts of the host's own (``/usr``,
``/home``, ``/tmp``...), except the top-level folders the view replaces
(``/ml``, ``/eas``): those are fresh folders in the tmpfs holding only the
job's binds. It then ``chroot``s there and ``exec``s the command, keeping the
caller's uid (a user namespace maps it to itself), pid, process group and
environment. Nothing is created in the host's ``/ml``, not even the folder.

Where the OS does not allow it (user namespaces switched off, no
``CAP_SYS_ADMIN``, not Linux) :func:`support` says why before anything runs.
``PAI_JUPYTER_PRIVATE_VIEW=0`` turns the view off on purpose.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

# The launcher half of this file runs before every worker: it imports only what it needs
# (no subprocess, tempfile, pathlib or ctypes.util), so a view costs a few milliseconds.

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
# statvfs f_flag bits that a user namespace may not clear on a remount (mount(2), EPERM).
_LOCKED_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))

DISABLE_ENV = "PAI_JUPYTER_PRIVATE_VIEW"
LAUNCH_FAILED = 125  # exit code of a launcher that could not build the view (the command never ran)
_PREFIX = "pai-jupyter private view: "


@dataclass(frozen=True)
class Bind:
    """Show host path ``source`` (a folder or a file) at ``target`` inside the view."""

    source: str
    target: str
    read_only: bool = False

    def __post_init__(self) -> None:
        if not os.path.isabs(self.target) or os.path.normpath(self.target) in ("/", "//"):
            raise ValueError(f"view target {self.target!r} must be an absolute path below /")

    @property
    def top(self) -> str:
        """The top-level folder this bind lives in (``ml`` for ``/ml/output/model``)."""
        return os.path.normpath(self.target).lstrip("/").split("/", 1)[0]


@dataclass(frozen=True)
class Support:
    """Whether private views work here; ``reason`` says why not, in a sentence a user can act on."""

    available: bool
    reason: str | None = None


def command(argv: list[str], binds: list[Bind], *, cwd: str | None = None, python: str | None = None) -> list[str]:
    """The argv that runs ``argv`` inside a view made of ``binds``, starting in ``cwd`` (a view path).

    Use it only where :func:`support` said the view is available; the launcher
    exits with :data:`LAUNCH_FAILED` and one line on stderr if building the view fails anyway.
    """
    plan = {"binds": [[b.source, b.target, b.read_only] for b in binds], "cwd": cwd}
    # -I -S: the launcher needs only the standard library and must not run the user's site hooks.
    return [python or sys.executable, "-I", "-S", os.path.realpath(__file__), json.dumps(plan), "--", *argv]


def run(
    argv: list[str], binds: list[Bind], *, cwd: str | None = None, **popen: Any
) -> subprocess.CompletedProcess:
    """Run ``argv`` in a view and wait (``subprocess.run`` keywords pass through)."""
    import subprocess

    return subprocess.run(command(argv, binds, cwd=cwd), **popen)


@functools.cache
def support() -> Support:
    """Probe once per process: build a real view with a private ``/ml`` and read a file through it."""
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "off", "false", "no"):
        return Support(False, f"private views are turned off by {DISABLE_ENV}={os.environ[DISABLE_ENV]}")
    if not sys.platform.startswith("linux"):
        return Support(False, f"private mount namespaces need Linux; this is {sys.platform}")
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pai-view-probe-") as tmp:
        with open(os.path.join(tmp, "probe"), "w") as fh:
            fh.write("ok")
        check = "import sys; sys.exit(0 if open('/ml/probe').read() == 'ok' else 3)"
        try:
            done = run(
                [sys.executable, "-I", "-S", "-c", check],
                [Bind(tmp, "/ml")],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Support(False, f"the private-view probe could not run: {exc}")
    if done.returncode == 0:
        return Support(True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    detail = next((line[len(_PREFIX) :] for line in lines if line.startswith(_PREFIX)), None)
    detail = detail or (lines[-1] if lines else f"the probe exited with code {done.returncode}")
    hint = _sysctl_hint()
    return Support(False, detail + (f" ({hint})" if hint else ""))


def _sysctl_hint() -> str | None:
    """Name the switch that forbids user namespaces on this machine, if one does."""
    for path, off, fix in (
        ("/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
        ("/proc/sys/kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"),
        (
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ),
    ):
        try:
            with open(path) as fh:
                if fh.read().strip() == off:
                    return f"{path} is {off}; an administrator can allow them with `{fix}`"
        except OSError:
            continue
    return None


# -- the launcher (runs in the child, before exec) ---------------------------------------------


class _ViewError(Exception):
    pass


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)  # the interpreter's own symbols: libc's mount and unshare


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise _ViewError(f"{what} failed: {os.strerror(err)} (errno {err})")


def _mount(
    libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    rc = libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    _check(rc, f"mount {source or fstype} on {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _enter_namespaces(libc: ctypes.CDLL) -> None:
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() == 0 and libc.unshare(CLONE_NEWNS) == 0:
        return
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise _ViewError(f"this OS does not allow a private mount namespace here: unshare: {os.strerror(err)}")
    # Map our own uid/gid to themselves: the command keeps its identity, files it writes are the user's.
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def _bind(libc: ctypes.CDLL, source: str, target: str, read_only: bool) -> None:
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    if read_only:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        vfs = os.statvfs(target)
        for st_flag, ms_flag in _LOCKED_FLAGS:
            if vfs.f_flag & st_flag:
                flags |= ms_flag
        _mount(libc, None, target, None, flags)


def _make_target(path: str, source: str) -> None:
    if os.path.isdir(source):
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            open(path, "a").close()


def _stage() -> str:
    """One empty folder per user, reused by every view (each mounts its own tmpfs over it, privately)."""
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"pai-jupyter-view-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid():
        import tempfile

        return tempfile.mkdtemp(prefix="pai-jupyter-view-")  # someone else's: never mount over it
    return path


def build_view(binds: list[Bind]) -> str:
    """In this (the launcher's) process: enter new namespaces, build the view, return its root."""
    for b in binds:
        if not os.path.exists(b.source):
            raise _ViewError(f"the host path {b.source} for {b.target} does not exist")
    libc = _libc()
    _enter_namespaces(libc)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    # The new root is a tmpfs over a folder of our own, mounted only in this namespace.
    root = _stage()
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID, "mode=0755")
    replaced = {b.top for b in binds}
    for name in sorted(os.listdir("/")):
        host, inside = "/" + name, os.path.join(root, name)
        if name in replaced:
            continue
        if os.path.islink(host):
            os.symlink(os.readlink(host), inside)
        elif os.path.isdir(host):
            os.mkdir(inside)
            _mount(libc, host, inside, None, MS_BIND | MS_REC)
        else:
            open(inside, "a").close()
            _mount(libc, host, inside, None, MS_BIND)
    for name in replaced:
        os.makedirs(os.path.join(root, name), mode=0o755, exist_ok=True)
    # Shallow targets first, so /ml/output is in place before /ml/output/model is bound inside it.
    for b in sorted(binds, key=lambda b: os.path.normpath(b.target).count("/")):
        inside = os.path.join(root, os.path.normpath(b.target).lstrip("/"))
        _make_target(inside, b.source)
        _bind(libc, os.path.realpath(b.source), inside, b.read_only)
    return root


def main(args: list[str]) -> int:
    if len(args) < 3 or args[1] != "--":
        print(f"{_PREFIX}usage: private_view.py PLAN_JSON -- COMMAND...", file=sys.stderr)
        return 2
    plan = json.loads(args[0])
    argv = args[2:]
    cwd = plan.get("cwd") or os.getcwd()
    try:
        binds = [Bind(source, target, bool(ro)) for source, target, ro in plan["binds"]]
        root = build_view(binds)
        os.chroot(root)
        os.chdir(cwd)
    except (_ViewError, OSError, ValueError) as exc:
        print(f"{_PREFIX}{exc}", file=sys.stderr)
        return LAUNCH_FAILED
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"{_PREFIX}cannot run {argv[0]}: {exc}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
