# Over 450 lines on purpose: JobSpec and its validation, DLC CreateJob form (EcsSpec, spot rules) and PAI_* env are one unit.
"""``JobSpec``: what a training job is, validated, and its DLC CreateJob form.

The spec is a plain dataclass that round-trips through JSON (``to_dict`` /
``from_dict``) and through the body of PAI-DLC's CreateJob request
(``to_dlc`` / ``from_dlc``, field names as in ``alibabacloud-pai-dlc20201203``),
so a user can take a job to the console and back.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..durations import parse_duration
from ..errors import ValidationError
from ..storage.uri import OssUri

FRAMEWORKS = ("pytorch", "tensorflow", "xgboost", "mxnet", "python")
# DLC has no MXNet or plain-Python job type: MXNet runs as an MPIJob (Horovod),
# a plain script as a PyTorchJob, whose workers get the usual rendezvous env.
JOB_TYPES = {
    "pytorch": "PyTorchJob",
    "tensorflow": "TFJob",
    "xgboost": "XGBoostJob",
    "mxnet": "MPIJob",
    "python": "PyTorchJob",
}
DEFAULT_IMAGES = {
    "pytorch": "dsw-registry-vpc.{region}.cr.aliyuncs.com/pai/pytorch-training:2.3-gpu-py310-cu121-ubuntu22.04",
    "tensorflow": "dsw-registry-vpc.{region}.cr.aliyuncs.com/pai/tensorflow-training:2.14-gpu-py311-cu118-ubuntu22.04",
    "xgboost": "dsw-registry-vpc.{region}.cr.aliyuncs.com/pai/xgboost:1.6.0-cpu-py36-ubuntu18.04",
    "mxnet": "dsw-registry-vpc.{region}.cr.aliyuncs.com/pai/mxnet-training:1.9-gpu-py38-cu112-ubuntu20.04",
    "python": "dsw-registry-vpc.{region}.cr.aliyuncs.com/pai/pytorch-training:2.3-cpu-py310-ubuntu22.04",
}
# The one documented strategy (DLC SpotSpec struct page and the SDK model _spot_spec.py); each
# SpotSpec carries one of SpotDiscountLimit / SpotPriceLimit.
SPOT_STRATEGIES = ("SpotWithPriceLimit",)
DEFAULT_SPOT_DISCOUNT = 0.9  # used when --spot names no limit: bid up to 90% of the pay-as-you-go price
# General-purpose spot jobs: PyTorch only, in these regions ("Use preemptible jobs",
# https://www.alibabacloud.com/help/en/pai/user-guide/use-preemptible-job, doc 2785448, Limits table).
SPOT_FRAMEWORKS = ("pytorch", "python")  # both run as PyTorchJob
SPOT_REGIONS = ("cn-beijing", "cn-shanghai", "cn-hangzhou", "cn-shenzhen", "cn-wulanchabu", "cn-guangzhou")
SHARED_POOL = "public"
# The public pool takes an ECS instance type per role (EcsSpec); ResourceConfig sizes a dedicated
# quota and goes only with a ResourceId (CreateJob ResourceId doc in the SDK model
# _create_job_request.py; the PAI SDK always sets an instance type on the public pool,
# pai/estimator.py). Defaults when none is given, from the DLC billing page's general list:
DEFAULT_CPU_INSTANCE = "ecs.g6.xlarge"  # 4 vCPU, 16 GiB
DEFAULT_GPU_INSTANCE = "ecs.gn6i-c4g1.xlarge"  # 4 vCPU, 15 GiB, 1 x NVIDIA T4

# Where things are mounted inside a DLC pod; the same names PAI's SDK uses.
CODE_MOUNT = "/ml/usercode"
INPUT_MOUNT = "/ml/input/data"
OUTPUT_MOUNT = "/ml/output/model"
CHECKPOINT_MOUNT = "/ml/output/checkpoints"
# The rest of the PAI SDK's training layout: hyperparameters.json under the config folder
# (pai/estimator.py, EstimatorBase docstring; docs/source/user-guide/training/prepare-code.rst,
# "PAI_CONFIG_DIR"), TensorBoard logs in the "tensorboard" output channel
# (pai/job/_training_job.py, DEFAULT_TENSORBOARD_CHANNEL_NAME; docs .../training/tensorboard.rst).
CONFIG_MOUNT = "/ml/input/config"
HYPERPARAMETERS_FILE = f"{CONFIG_MOUNT}/hyperparameters.json"
TENSORBOARD_MOUNT = "/ml/output/tensorboard"
TAG_PREFIX = "pai-jupyter."
# The job's experiment as a DLC job tag (JobSettings.Tags, SDK model _job_settings.py): ListJobs
# filters on it (ListJobsRequest.Tags, "the tags used for filtering", _list_jobs_request.py).
EXPERIMENT_TAG = f"{TAG_PREFIX}experiment"
ENV_SYNC_MODES = ("auto", "file", "off")

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPERIMENT = re.compile(r"^[\w.-]{1,128}$")  # \w: letters of any script (a notebook named in Chinese)
_HP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
# PAI_HPS_<NAME>: characters an environment variable name cannot hold become '_', upper-cased
# (pai/job/_local_training_job.py, _ENV_NOT_ALLOWED_CHARS / _normalize_name).
_ENV_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_]")


def hp_env_name(name: str) -> str:
    """``PAI_HPS_<NAME>`` for hyperparameter ``name``, as the PAI SDK spells it."""
    return "PAI_HPS_" + _ENV_NOT_ALLOWED.sub("_", name).upper()


def hp_user_args(hyperparameters: dict[str, str]) -> str:
    """``PAI_USER_ARGS``: ``--name value`` per hyperparameter, shell-quoted (prepare-code.rst, PAI_USER_ARGS)."""
    return " ".join(f"--{shlex.quote(k)} {shlex.quote(v)}" for k, v in hyperparameters.items())


def hp_envs(hyperparameters: dict[str, str]) -> dict[str, str]:
    """The hyperparameter variables of a PAI training container: ``PAI_HPS`` (a JSON object of
    strings), ``PAI_HPS_<NAME>`` each, ``PAI_USER_ARGS`` (pai/job/_local_training_job.py, prepare_env;
    set even when there are none, as there)."""
    envs = {"PAI_HPS": json.dumps(hyperparameters), "PAI_USER_ARGS": hp_user_args(hyperparameters)}
    envs.update({hp_env_name(k): v for k, v in hyperparameters.items()})
    return envs


_INSTANCE = re.compile(r"^ecs\.[a-z0-9-]+\.[a-z0-9-]+$")


@dataclass(frozen=True)
class DataInput:
    """One input channel: ``PAI_INPUT_<CHANNEL>`` points at it inside the job."""

    uri: str
    channel: str = "data"
    mount_path: str | None = None

    @classmethod
    def parse(cls, text: str) -> DataInput:
        """``[channel=]oss://bucket/key[:/mount/path]``."""
        channel = "data"
        if "=" in text.split("oss://", 1)[0]:
            channel, text = text.split("=", 1)
        mount = None
        if "://" in text:
            scheme, rest = text.split("://", 1)
            if ":" in rest:
                rest, mount = rest.rsplit(":", 1)
            text = f"{scheme}://{rest}"
        return cls(uri=text, channel=channel, mount_path=mount)

    @property
    def effective_mount(self) -> str:
        return self.mount_path or f"{INPUT_MOUNT}/{self.channel}"


@dataclass(frozen=True)
class SpotPolicy:
    strategy: str = "SpotWithPriceLimit"
    discount_limit: float | None = None  # 0.1-0.9 of the list price
    price_limit: float | None = None  # CNY per minute


@dataclass(frozen=True)
class JobLocations:
    """Where a job's workers find their inputs and write their outputs (paths or mount points)."""

    inputs: dict[str, str]  # channel -> path
    model: str | None
    checkpoints: str | None
    working_dir: str
    tensorboard: str | None = None
    config_dir: str | None = CONFIG_MOUNT


@dataclass(frozen=True)
class JobSpec:
    name: str
    framework: str = "python"
    workers: int = 1
    instance_type: str | None = None
    gpu_type: str | None = None
    gpu_count: int = 0
    cpu: int | None = None
    memory: str | None = None
    resource_group: str = SHARED_POOL
    workspace_id: str | None = None
    image: str | None = None
    spot: bool = False
    spot_policy: SpotPolicy | None = None
    inputs: tuple[DataInput, ...] = ()
    output: str | None = None
    checkpoint: str | None = None
    checkpoint_interval: float | None = None  # seconds
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    max_run_time: float | None = None  # seconds
    priority: int = 1
    max_restarts: int = 3
    entry: str = "main.py"
    workdir: str = ""  # the entry's folder, relative to the code snapshot root
    # Runs with the same experiment are compared together (default: the notebook's name);
    # on DLC it is the job tag pai-jupyter.experiment, which ListJobs filters on (Tags).
    experiment: str | None = None
    autolog: bool = True  # Trainer/Lightning/Keras metrics reach report() without code (--no-autolog)
    hyperparameters: dict[str, str] = field(
        default_factory=dict
    )  # --hp NAME=VALUE: PAI_HPS*, hyperparameters.json
    # Environment sync (provenance/imports.py): "auto" pins what the code imports to the kernel's
    # versions at submit, "file" installs --requirements FILE, "off" installs nothing.
    env_sync: str = "auto"
    requirements: tuple[str, ...] = ()  # pip requirement lines the job installs before it starts

    def __post_init__(self) -> None:
        # Normalise what users pass loosely (lists, strings, duration text) so
        # equality and round-trips are exact.
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "args", tuple(str(a) for a in self.args))
        object.__setattr__(self, "requirements", tuple(str(r) for r in self.requirements))
        object.__setattr__(self, "env", {str(k): str(v) for k, v in dict(self.env).items()})
        # The PAI SDK passes every value as a string (prepare_env: str(value); hyperparameters.json too).
        object.__setattr__(
            self, "hyperparameters", {str(k): str(v) for k, v in dict(self.hyperparameters or {}).items()}
        )
        if self.checkpoint_interval is not None:
            object.__setattr__(
                self, "checkpoint_interval", parse_duration(self.checkpoint_interval, "--checkpoint-interval")
            )
        if self.max_run_time is not None:
            object.__setattr__(self, "max_run_time", parse_duration(self.max_run_time, "--max-run-time"))

    # -- validation -----------------------------------------------------
    def validate(self) -> JobSpec:
        """Raise ``ValidationError`` naming the first bad field; return self."""
        if not _NAME.match(self.name or ""):
            raise ValidationError(
                f"job name {self.name!r} is not valid",
                "use 1-256 letters, digits, '_', '.' or '-' (DLC's DisplayName rule)",
            )
        if self.framework not in FRAMEWORKS:
            raise ValidationError(
                f"framework {self.framework!r} is not supported", f"choose one of {', '.join(FRAMEWORKS)}"
            )
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValidationError(f"--workers must be at least 1, got {self.workers!r}")
        if self.workers > 256:
            raise ValidationError(f"--workers {self.workers} is more than the 256 this tool allows")
        if self.instance_type is not None and not _INSTANCE.match(self.instance_type):
            raise ValidationError(
                f"instance type {self.instance_type!r} is not an ECS spec",
                "write it like ecs.gn6i-c4g1.xlarge (see ListEcsSpecs)",
            )
        if self.gpu_count < 0:
            raise ValidationError(f"--gpu-count must be >= 0, got {self.gpu_count}")
        if self.cpu is not None and self.cpu < 1:
            raise ValidationError(f"--cpu must be >= 1, got {self.cpu}")
        if not self.resource_group:
            raise ValidationError("--resource-group is empty", f"use '{SHARED_POOL}' for the shared pool")
        if not 1 <= self.priority <= 9:
            raise ValidationError(f"--priority must be between 1 and 9, got {self.priority}")
        if self.max_restarts < 0:
            raise ValidationError(f"--max-restarts must be >= 0, got {self.max_restarts}")
        if self.spot_policy is not None:
            if not self.spot:
                raise ValidationError("a spot policy was given for a job that is not --spot", "add --spot")
            p = self.spot_policy
            if p.strategy not in SPOT_STRATEGIES:
                raise ValidationError(
                    f"spot strategy {p.strategy!r} is unknown", f"choose {' or '.join(SPOT_STRATEGIES)}"
                )
            if p.discount_limit is not None and not 0 < p.discount_limit < 1:
                raise ValidationError(f"spot discount limit must be between 0 and 1, got {p.discount_limit}")
            if p.discount_limit is not None and p.price_limit is not None:
                raise ValidationError(
                    "a spot policy takes one limit", "give the discount limit or the price limit, not both"
                )
            if p.price_limit is not None and p.price_limit <= 0:
                raise ValidationError(f"spot price limit must be positive, got {p.price_limit}")
        channels: set[str] = set()
        for item in self.inputs:
            OssUri.parse(item.uri, f"--data for channel {item.channel!r}")
            if not _CHANNEL.match(item.channel):
                raise ValidationError(
                    f"data channel name {item.channel!r} is not valid",
                    "start with a letter; letters, digits and '_' only (it becomes PAI_INPUT_<CHANNEL>)",
                )
            if item.channel.upper() in channels:
                raise ValidationError(
                    f"data channel {item.channel!r} is given twice", "name each --data channel=..."
                )
            channels.add(item.channel.upper())
            if item.mount_path is not None and not item.mount_path.startswith("/"):
                raise ValidationError(f"mount path {item.mount_path!r} must be absolute")
        if self.output is not None:
            OssUri.parse(self.output, "--output")
        if self.checkpoint is not None:
            OssUri.parse(self.checkpoint, "--checkpoint")
        if self.checkpoint_interval is not None and self.checkpoint_interval <= 0:
            raise ValidationError("--checkpoint-interval must be positive")
        if self.max_run_time is not None and self.max_run_time < 60:
            raise ValidationError("--max-run-time must be at least 1m (DLC counts it in minutes)")
        for key in self.env:
            if not _ENV_NAME.match(key):
                raise ValidationError(f"environment variable name {key!r} is not valid")
        if self.experiment is not None and not _EXPERIMENT.match(self.experiment):
            raise ValidationError(
                f"experiment name {self.experiment!r} is not valid",
                "use 1-128 letters (any script), digits, '_', '.' or '-' (it becomes a DLC job tag)",
            )
        seen: dict[str, str] = {}
        for key in self.hyperparameters:
            if not _HP_NAME.match(key):
                raise ValidationError(
                    f"hyperparameter name {key!r} is not valid",
                    "start with a letter or '_'; then letters, digits, '_', '.' or '-' (--hp lr=0.01)",
                )
            env_name = hp_env_name(key)
            if env_name in seen:
                raise ValidationError(
                    f"hyperparameters {seen[env_name]!r} and {key!r} both become {env_name}",
                    "rename one of them",
                )
            seen[env_name] = key
        if self.env_sync not in ENV_SYNC_MODES:
            raise ValidationError(
                f"env_sync {self.env_sync!r} is unknown", f"choose one of {', '.join(ENV_SYNC_MODES)}"
            )
        if self.env_sync == "off" and self.requirements:
            raise ValidationError(
                "--no-env-sync installs nothing, yet requirements were given",
                "drop --no-env-sync to install --requirements FILE, or drop --requirements",
            )
        if "/" in self.entry or not self.entry.endswith(".py"):
            raise ValidationError(f"entry script {self.entry!r} must be a .py file name without folders")
        return self

    def validate_for_dlc(self, region: str | None = None) -> JobSpec:
        """What a real DLC account refuses, checked before any request: resources and spot."""
        self.validate()
        public = self.resource_group == SHARED_POOL
        if public and (self.cpu or self.memory):
            raise ValidationError(
                "--cpu/--memory size a dedicated quota; the public pool runs whole ECS instances",
                "choose --instance-type (e.g. ecs.g6.xlarge), or pass --resource-group <quota id>",
            )
        if public and not self.instance_type and self.gpu_count > 1:
            raise ValidationError(
                f"--gpu-count {self.gpu_count} on the public pool needs an instance type with that many GPUs",
                "choose --instance-type (see ListEcsSpecs, e.g. ecs.gn6i-c24g1.12xlarge)",
            )
        if not public and not (self.instance_type or self.cpu or self.memory or self.gpu_count):
            raise ValidationError(
                f"the quota {self.resource_group} needs the job's size",
                "pass --cpu and --memory (and --gpu-count), or --instance-type",
            )
        if self.spot:
            if self.framework not in SPOT_FRAMEWORKS:
                raise ValidationError(
                    f"--spot is not available for {self.framework} jobs: DLC's general-purpose spot jobs are PyTorch only",
                    "drop --spot, or run the training as --framework pytorch",
                )
            if region and region not in SPOT_REGIONS:
                raise ValidationError(
                    f"--spot is not available in {region}",
                    f"spot jobs run in {', '.join(SPOT_REGIONS)}; drop --spot or change PaiConfig.region",
                )
        return self

    def dlc_instance_type(self) -> str | None:
        """The EcsSpec the job runs on: the given one, else a default on the public pool."""
        if self.instance_type or self.resource_group != SHARED_POOL:
            return self.instance_type
        return DEFAULT_GPU_INSTANCE if self.gpu_count else DEFAULT_CPU_INSTANCE

    def with_changes(self, **changes: Any) -> JobSpec:
        return replace(self, **changes)

    # -- JSON -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [asdict(i) for i in self.inputs]
        data["args"] = list(self.args)
        data["requirements"] = list(self.requirements)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(f"unknown job spec field(s): {', '.join(unknown)}")
        data = dict(data)
        data["inputs"] = tuple(DataInput(**i) if isinstance(i, dict) else i for i in data.get("inputs", ()))
        if isinstance(data.get("spot_policy"), dict):
            data["spot_policy"] = SpotPolicy(**data["spot_policy"])
        try:
            return cls(**data)
        except TypeError as exc:  # a missing required field
            raise ValidationError(f"job spec is incomplete: {exc}") from None

    # -- DLC CreateJob ------------------------------------------------------
    @property
    def job_type(self) -> str:
        return JOB_TYPES[self.framework]

    def user_command(self) -> str:
        """``cd`` to the code, then ``python ENTRY ARGS``; with hyperparameters, first write
        ``hyperparameters.json`` from ``PAI_HPS`` (a DLC job gets no config folder of its own;
        PAI's training service writes the same file, pai/estimator.py EstimatorBase docstring)."""
        parts = ["python", self.entry, *self.args]
        cd = f"{CODE_MOUNT}/{self.workdir}".rstrip("/")
        command = f"cd {shlex.quote(cd)} && " + " ".join(shlex.quote(p) for p in parts)
        if self.hyperparameters:
            command = f"{_WRITE_HPS} && {command}"
        return command

    def pai_envs(self, attempt: int | None = None, locations: JobLocations | None = None) -> dict[str, str]:
        """The ``PAI_*`` variables a job's workers get: the one builder for both backends.

        Locations are PAI's SDK's (``PAI_INPUT_<CHANNEL>``, ``PAI_OUTPUT_MODEL``,
        ``PAI_OUTPUT_CHECKPOINTS``, ``PAI_WORKING_DIR``): DLC's mounts by default, local
        folders when the control plane passes ``locations``. With ``attempt``, the job's
        identity too (``PAI_JOB_NAME``, ``PAI_FRAMEWORK``, ``PAI_JOB_ATTEMPT``).
        """
        if locations is None:
            locations = JobLocations(
                inputs={i.channel: i.effective_mount for i in self.inputs},
                model=OUTPUT_MOUNT if self.output else None,
                checkpoints=CHECKPOINT_MOUNT if self.checkpoint else None,
                working_dir=f"{CODE_MOUNT}/{self.workdir}".rstrip("/"),
            )
        envs: dict[str, str] = {}
        if attempt is not None:
            envs.update(PAI_JOB_NAME=self.name, PAI_FRAMEWORK=self.framework, PAI_JOB_ATTEMPT=str(attempt))
        envs.update({f"PAI_INPUT_{channel.upper()}": str(path) for channel, path in locations.inputs.items()})
        if locations.model:
            envs["PAI_OUTPUT_MODEL"] = locations.model
        if locations.checkpoints:
            envs["PAI_OUTPUT_CHECKPOINTS"] = locations.checkpoints
        if locations.tensorboard:
            envs["PAI_OUTPUT_TENSORBOARD"] = locations.tensorboard
        if locations.config_dir:
            envs["PAI_CONFIG_DIR"] = locations.config_dir
        envs.update(hp_envs(self.hyperparameters))
        if self.checkpoint_interval is not None:  # read by pai_jupyter.Checkpointer on both backends
            envs["PAI_CHECKPOINT_INTERVAL"] = str(self.checkpoint_interval)
        envs["PAI_WORKING_DIR"] = locations.working_dir
        return envs

    def to_dlc(self, code_uri: str | None = None, region: str = "cn-hangzhou") -> dict[str, Any]:
        """The CreateJob request body (PascalCase, as the DLC SDK sends it)."""
        self.validate_for_dlc()
        role: dict[str, Any] = {
            "Type": "Worker",
            "Image": self.image or DEFAULT_IMAGES[self.framework].format(region=region),
            "PodCount": self.workers,
        }
        ecs = self.dlc_instance_type()
        if ecs:
            role["EcsSpec"] = ecs
        resources = {
            k: v
            for k, v in {
                "CPU": str(self.cpu) if self.cpu else None,
                "GPU": str(self.gpu_count) if self.gpu_count else None,
                "GPUType": self.gpu_type,
                "Memory": self.memory,
            }.items()
            if v
        }
        if resources and self.resource_group != SHARED_POOL:
            role["ResourceConfig"] = resources  # a quota's size; never on the public pool
        if self.spot:
            role["UseSpotInstance"] = True
            policy = self.spot_policy or SpotPolicy()
            spot: dict[str, Any] = {"SpotStrategy": policy.strategy}
            if policy.discount_limit is not None:
                spot["SpotDiscountLimit"] = policy.discount_limit
            if policy.price_limit is not None:
                spot["SpotPriceLimit"] = policy.price_limit
            if policy.discount_limit is None and policy.price_limit is None:
                spot["SpotDiscountLimit"] = DEFAULT_SPOT_DISCOUNT  # a SpotSpec needs one limit
            role["SpotSpec"] = spot
        sources: list[dict[str, Any]] = []
        if code_uri:
            sources.append({"Uri": code_uri, "MountPath": CODE_MOUNT, "MountAccess": "RO"})
        for item in self.inputs:
            sources.append({"Uri": item.uri, "MountPath": item.effective_mount, "MountAccess": "RO"})
        if self.output:
            sources.append({"Uri": self.output, "MountPath": OUTPUT_MOUNT, "MountAccess": "RW"})
        if self.checkpoint:
            sources.append({"Uri": self.checkpoint, "MountPath": CHECKPOINT_MOUNT, "MountAccess": "RW"})
        tags = {f"{TAG_PREFIX}framework": self.framework, f"{TAG_PREFIX}max-restarts": str(self.max_restarts)}
        # What the body itself does not carry back (a defaulted EcsSpec / spot limit, the GPU
        # count on the public pool), so from_dlc returns the spec that was written.
        if ecs and not self.instance_type:
            tags[f"{TAG_PREFIX}default-instance"] = "true"
        if self.spot and not (
            self.spot_policy and (self.spot_policy.discount_limit or self.spot_policy.price_limit)
        ):
            tags[f"{TAG_PREFIX}default-spot-limit"] = "true"
        if self.gpu_count and "ResourceConfig" not in role:
            tags[f"{TAG_PREFIX}gpu-count"] = str(self.gpu_count)
        if self.checkpoint_interval is not None:
            tags[f"{TAG_PREFIX}checkpoint-interval"] = str(self.checkpoint_interval)
        for item in self.inputs:
            tags[f"{TAG_PREFIX}input.{item.channel}"] = item.mount_path or ""
        if self.experiment:
            tags[EXPERIMENT_TAG] = self.experiment
        if not self.autolog:
            tags[f"{TAG_PREFIX}autolog"] = "false"
        body: dict[str, Any] = {
            "DisplayName": self.name,
            "JobType": self.job_type,
            "JobSpecs": [role],
            "UserCommand": self.user_command(),
            "Envs": {**self.pai_envs(), **self.env},
            "Priority": self.priority,
            "Settings": {"Tags": tags},
        }
        if self.resource_group != SHARED_POOL:
            body["ResourceId"] = self.resource_group
        if self.workspace_id:
            body["WorkspaceId"] = self.workspace_id
        if sources:
            body["DataSources"] = sources
        if self.max_run_time is not None:
            body["JobMaxRunningTimeMinutes"] = max(1, round(self.max_run_time / 60))
        if self.requirements:
            # pip requirement lines DLC installs on every node before UserCommand (ThirdpartyLibs,
            # CreateJobRequest in the SDK model _create_job_request.py). Pins that need another
            # index (CUDA-tagged wheels) go through ThirdpartyLibDir instead (dlc_jobs.create_body).
            body["ThirdpartyLibs"] = list(self.requirements)
        if self.env_sync != "auto":
            tags[f"{TAG_PREFIX}env-sync"] = self.env_sync
        return body

    @classmethod
    def from_dlc(cls, body: dict[str, Any]) -> JobSpec:
        """Read a CreateJob body (ours or one written by hand) back into a spec."""
        try:
            role = body["JobSpecs"][0]
            name = body["DisplayName"]
        except (KeyError, IndexError, TypeError):
            raise ValidationError("a DLC job needs DisplayName and at least one JobSpecs entry") from None
        tags = (body.get("Settings") or {}).get("Tags") or {}
        framework = tags.get(f"{TAG_PREFIX}framework") or {v: k for k, v in JOB_TYPES.items()}.get(
            body.get("JobType", ""), "python"
        )
        inputs, output, checkpoint, workdir = [], None, None, ""
        for src in body.get("DataSources") or []:
            uri, mount = src.get("Uri"), src.get("MountPath", "")
            if mount in (CODE_MOUNT, TENSORBOARD_MOUNT):
                continue
            if mount == OUTPUT_MOUNT:
                output = uri
            elif mount == CHECKPOINT_MOUNT:
                checkpoint = uri
            else:
                channel = mount.rstrip("/").rsplit("/", 1)[-1] if mount.startswith(INPUT_MOUNT + "/") else None
                custom = None
                for key, value in tags.items():
                    if key.startswith(f"{TAG_PREFIX}input.") and value == mount:
                        channel, custom = key.split(".", 2)[-1], mount
                if channel is None:
                    channel, custom = f"in{len(inputs)}", mount
                inputs.append(DataInput(uri=uri, channel=channel, mount_path=custom))
        args: list[str] = []
        entry = "main.py"
        command = body.get("UserCommand", "")
        if command.startswith(_WRITE_HPS + " && "):
            command = command[len(_WRITE_HPS) + 4 :]
        words = shlex.split(command.split("&&", 1)[-1]) if command else []
        if len(words) >= 2 and words[0] == "python":
            entry, args = words[1], words[2:]
        if command.startswith("cd ") and "&&" in command:
            cd = shlex.split(command.split("&&", 1)[0])[1]
            workdir = cd[len(CODE_MOUNT) :].strip("/") if cd.startswith(CODE_MOUNT) else ""
        interval = tags.get(f"{TAG_PREFIX}checkpoint-interval")
        hyperparameters = _hps_of(body.get("Envs") or {})
        pai_envs = set(
            JobSpec(
                name="x",
                inputs=tuple(inputs),
                output=output,
                checkpoint=checkpoint,
                workdir=workdir,
                checkpoint_interval=float(interval) if interval else None,
                hyperparameters=hyperparameters,
            )
            .pai_envs()
            .items()
        )
        env = {k: v for k, v in (body.get("Envs") or {}).items() if (k, v) not in pai_envs}
        resources = role.get("ResourceConfig") or {}
        spot_policy = None
        if role.get("SpotSpec"):
            s = role["SpotSpec"]
            spot_policy = SpotPolicy(
                strategy=s.get("SpotStrategy", "SpotWithPriceLimit"),
                discount_limit=s.get("SpotDiscountLimit"),
                price_limit=s.get("SpotPriceLimit"),
            )
            if tags.get(f"{TAG_PREFIX}default-spot-limit") == "true":
                spot_policy = (
                    None if spot_policy.strategy == SpotPolicy().strategy else SpotPolicy(spot_policy.strategy)
                )
        interval = tags.get(f"{TAG_PREFIX}checkpoint-interval")
        max_minutes = body.get("JobMaxRunningTimeMinutes")
        image = role.get("Image")
        if image == DEFAULT_IMAGES.get(framework, "").format(region=_region_of(image)):
            image = None
        return cls(
            name=name,
            framework=framework,
            workers=int(role.get("PodCount", 1)),
            instance_type=None if tags.get(f"{TAG_PREFIX}default-instance") == "true" else role.get("EcsSpec"),
            gpu_type=resources.get("GPUType"),
            gpu_count=int(resources.get("GPU") or tags.get(f"{TAG_PREFIX}gpu-count") or 0),
            cpu=int(resources["CPU"]) if resources.get("CPU") else None,
            memory=resources.get("Memory"),
            resource_group=body.get("ResourceId") or SHARED_POOL,
            workspace_id=body.get("WorkspaceId"),
            image=image,
            spot=bool(role.get("UseSpotInstance")),
            spot_policy=spot_policy,
            inputs=tuple(inputs),
            output=output,
            checkpoint=checkpoint,
            checkpoint_interval=float(interval) if interval else None,
            env=env,
            args=tuple(args),
            max_run_time=max_minutes * 60 if max_minutes else None,
            priority=int(body.get("Priority", 1)),
            max_restarts=int(tags.get(f"{TAG_PREFIX}max-restarts", 3)),
            entry=entry,
            workdir=workdir,
            experiment=tags.get(EXPERIMENT_TAG) or None,
            autolog=tags.get(f"{TAG_PREFIX}autolog") != "false",
            hyperparameters=hyperparameters,
            env_sync=tags.get(f"{TAG_PREFIX}env-sync", "auto"),
            requirements=tuple(body.get("ThirdpartyLibs") or ()),
        )


_WRITE_HPS = f'mkdir -p {CONFIG_MOUNT} && printf "%s" "$PAI_HPS" > {HYPERPARAMETERS_FILE}'


def _hps_of(envs: dict[str, Any]) -> dict[str, str]:
    """The hyperparameters a body's ``PAI_HPS`` carries (none when absent or not a JSON object)."""
    try:
        hps = json.loads(envs.get("PAI_HPS") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in hps.items()} if isinstance(hps, dict) else {}


def _region_of(image: str | None) -> str:
    m = re.match(r"dsw-registry-vpc\.([a-z0-9-]+)\.cr\.aliyuncs\.com/", image or "")
    return m.group(1) if m else "cn-hangzhou"
