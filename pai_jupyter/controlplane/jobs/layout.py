"""Where a local worker finds PAI's training layout: a private ``/ml`` view, or the job's own folders.

A PAI training container sees (the PAI Python SDK's ``pai/job/_local_training_job.py``,
``_TrainingJobConfig`` and ``prepare_env``; ``pai/estimator.py``, the EstimatorBase docstring)::

    /ml/usercode/                      the code, the working directory (PAI_WORKING_DIR)
    /ml/input/config/hyperparameters.json  (PAI_CONFIG_DIR)
    /ml/input/data/<channel>/          a folder input (PAI_INPUT_<CHANNEL>), read-only
    /ml/input/data/<channel>/<file>    a file input: the variable names the file
    /ml/output/model/                  PAI_OUTPUT_MODEL
    /ml/output/checkpoints/            PAI_OUTPUT_CHECKPOINTS
    /ml/output/tensorboard/            PAI_OUTPUT_TENSORBOARD

Locally every one of those is a bind mount of the job's own folder (``--output`` is what
``/ml/output/model`` shows) in a private mount namespace (``private_view``). Where the OS does
not allow one, the variables point at the job's folders instead and the job says so.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from ...specs.job import (
    CHECKPOINT_MOUNT,
    CODE_MOUNT,
    CONFIG_MOUNT,
    INPUT_MOUNT,
    OUTPUT_MOUNT,
    TENSORBOARD_MOUNT,
    JobLocations,
    JobSpec,
)
from ..private_view import Bind


@dataclass(frozen=True)
class JobFolders:
    """The host folders of one job (inputs already resolved to local storage)."""

    code: Path
    config: Path
    inputs: dict[str, Path]  # channel -> the stored file or folder
    model: Path
    checkpoints: Path
    tensorboard: Path


@dataclass(frozen=True)
class WorkerLayout:
    locations: JobLocations  # what the PAI_* variables say
    binds: tuple[Bind, ...]  # empty: no private view, the variables name host folders
    cwd: str  # where the worker starts (a view path with binds)


def _input_target(spec: JobSpec, channel: str, path: Path) -> str:
    item = next(i for i in spec.inputs if i.channel == channel)
    base = item.mount_path or posixpath.join(INPUT_MOUNT, channel)
    return base if path.is_dir() else posixpath.join(base, path.resolve().name)


def worker_layout(spec: JobSpec, folders: JobFolders, *, view: bool) -> WorkerLayout:
    """The layout a worker of ``spec`` gets: PAI's paths in a view, or the host folders without one."""
    workdir = spec.workdir.strip("/")
    if not view:
        inputs = {ch: str(p) for ch, p in folders.inputs.items()}
        locations = JobLocations(
            inputs=inputs,
            model=str(folders.model),
            checkpoints=str(folders.checkpoints),
            working_dir=str(folders.code / workdir) if workdir else str(folders.code),
            tensorboard=str(folders.tensorboard),
            config_dir=str(folders.config),
        )
        return WorkerLayout(locations, (), locations.working_dir)
    binds = [
        Bind(str(folders.code), CODE_MOUNT),
        Bind(str(folders.config), CONFIG_MOUNT),
        Bind(str(folders.model), OUTPUT_MOUNT),
        Bind(str(folders.checkpoints), CHECKPOINT_MOUNT),
        Bind(str(folders.tensorboard), TENSORBOARD_MOUNT),
    ]
    inputs = {}
    for channel, path in folders.inputs.items():
        target = _input_target(spec, channel, path)
        binds.append(Bind(str(path.resolve()), target, read_only=True))  # DLC mounts inputs "RO" too
        inputs[channel] = target
    working_dir = posixpath.join(CODE_MOUNT, workdir) if workdir else CODE_MOUNT
    locations = JobLocations(
        inputs=inputs,
        model=OUTPUT_MOUNT,
        checkpoints=CHECKPOINT_MOUNT,
        working_dir=working_dir,
        tensorboard=TENSORBOARD_MOUNT,
        config_dir=CONFIG_MOUNT,
    )
    return WorkerLayout(locations, tuple(binds), working_dir)
