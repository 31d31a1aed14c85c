"""The PAI SDK's serving layout for a local custom-processor instance, without a container.

EAS shows a custom container its model at ``/eas/workspace/model/`` and the code
given as ``source_dir`` at ``/ml/usercode/``, runs the command there, tells the
server its port in ``LISTENING_PORT`` and installs ``prepare.pythonRequirements``
first (``container_serving_spec`` and ``DefaultServiceConfig`` in the PAI SDK's
``pai/model/_model.py``; its serving examples read ``MODEL_MOUNT_PATH``, default
``/eas/workspace/model``). Locally the instance gets the same paths in a private
mount view (``controlplane/private_view.py``, the one training jobs use): the
version's model folder and ``--code`` folder are bound read-only at those
paths, nothing is created in the host's ``/eas`` or ``/ml``. Where the OS allows
no private view, the instance runs in the host folders with ``MODEL_MOUNT_PATH``
pointing at the model, and an event says why.

``--requirements`` are installed with pip into a folder put first on the
instance's ``PYTHONPATH``, one folder per (requirements, Python) digest under
the control plane's home, so the second instance, version or service with the
same list starts at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ...specs.service import CONTAINER_CODE_DIR, CONTAINER_MODEL_DIR, MODEL_MOUNT_ENV
from ..private_view import Bind, command, support

PIP_TIMEOUT_S = 900.0
_LOCKS: dict[str, asyncio.Lock] = {}


class InstallFailed(Exception):
    pass


@dataclass
class Launch:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    note: str | None = None  # said once in the version's events (no private view, requirements reused)


def requirements_dir(home: Path, requirements: list[str]) -> Path:
    key = json.dumps([sys.version_info[:2], list(requirements)]).encode()
    return home / "serving" / "envs" / hashlib.sha256(key).hexdigest()[:16]


async def install_requirements(home: Path, requirements: list[str], log_path: Path) -> tuple[Path, bool]:
    """(the folder holding ``requirements``, whether it was installed now); cached by digest."""
    target = requirements_dir(home, requirements)
    lock = _LOCKS.setdefault(str(target), asyncio.Lock())
    async with lock:
        if (target / ".complete").exists():
            return target, False
        staging = target.with_name(target.name + f".{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        req_file = staging / "requirements.txt"
        req_file.write_text("\n".join(requirements) + "\n")
        with open(log_path, "ab") as out:
            out.write(f"installing --requirements into {target}\n".encode())
            out.flush()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"),
                *("--target", str(staging), "-r", str(req_file)),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
            try:
                code = await asyncio.wait_for(proc.wait(), PIP_TIMEOUT_S)
            except asyncio.TimeoutError:
                proc.kill()
                raise InstallFailed(
                    f"pip did not finish installing --requirements in {PIP_TIMEOUT_S:g}s"
                ) from None
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise InstallFailed(f"pip could not install --requirements (exit {code}); see the instance log")
        (staging / ".complete").write_text("")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        return target, True


async def custom_launch(
    home: Path,
    command_text: str,
    model_path: Path,
    code_path: Path | None,
    requirements: list[str],
    env: dict[str, str],
    log_path: Path,
) -> Launch:
    """How to start a custom instance: argv, host cwd and environment (``InstallFailed`` on pip errors)."""
    model_dir = model_path if model_path.is_dir() else model_path.parent
    argv = ["/bin/sh", "-c", command_text]
    env = dict(env)
    notes = []
    if requirements:
        site, fresh = await install_requirements(home, requirements, log_path)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
        notes.append(f"--requirements {'installed' if fresh else 'reused'} from {site}")
    view = support()
    if view.available:
        binds = [Bind(str(model_dir), CONTAINER_MODEL_DIR, read_only=True)]
        if code_path is not None:
            binds.append(Bind(str(code_path), CONTAINER_CODE_DIR, read_only=True))
        env[MODEL_MOUNT_ENV] = CONTAINER_MODEL_DIR
        inside = CONTAINER_CODE_DIR if code_path is not None else CONTAINER_MODEL_DIR
        return Launch(command(argv, binds, cwd=inside), str(model_dir), env, "; ".join(notes) or None)
    env[MODEL_MOUNT_ENV] = str(model_dir)
    notes.append(
        f"no private view ({view.reason}): the model is at {model_dir} (MODEL_MOUNT_PATH), not {CONTAINER_MODEL_DIR}"
    )
    return Launch(argv, str(code_path or model_dir), env, "; ".join(notes))
