# Over 450 lines on purpose: ServiceSpec, its policies and its EAS service JSON (containers, batching, runtime mount) are one unit.
"""``ServiceSpec``: what a service is, validated (with ``AutoscalePolicy`` and ``RolloutPlan``).

Plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``) and
through EAS's own formats, so a user can take a service to the console and back:

- ``ServiceSpec.to_eas(model_path)`` is the service JSON ``eascmd create`` takes
  (``name``, ``model_path``, ``processor`` or ``containers[]``, ``metadata``
  with ``metadata.rpc`` for batching (``specs/batching.py``), ``token``,
  ``autoscaler``); ``ServiceSpec.from_eas`` reads it back.
- ``AutoscalePolicy.to_eas_autoscaler()`` is the camelCase body of
  CreateServiceAutoScaler / UpdateServiceAutoScaler.

What EAS has no field for (our processor name where EAS has no built-in, the
environment, the signature, the body limit, the autoscaler tolerance, a name
with '-') travels in the service JSON's ``labels`` under ``pai-jupyter.*`` keys,
so ``from_eas(to_eas(m))`` gives back exactly the spec that made it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ValidationError
from ._checks import _is_int, _is_number, _known, _num
from .autoscale import ENVIRONMENTS, MAX_INSTANCES, SCALE_TO_ZERO_ENVS, AutoscalePolicy
from .batching import check_batching, from_eas_metadata, to_eas_rpc
from .rollout import RolloutPlan

PROCESSORS = ("onnx", "torchscript", "tensorflow", "sklearn", "xgboost", "custom")
DEFAULT_MAX_BODY = 8 * 2**20
# The gateway holds a whole request body in memory: past 1 GiB a limit is a typo, not a setting.
MAX_BODY_LIMIT = 2**30
BODY_RANGE = "1 byte to 1G (1073741824 bytes)"

# How each format is served on EAS (docs/aliyun.md, "Serving mapping"): by our own
# model server in a custom container, never by a built-in processor. EAS has no
# ``onnx``/``xgboost`` code (built-in processor list, reference section 3.3); its
# PyTorch and TensorFlow processors take protobuf ``TorchRequest``/``TFRequest``,
# not JSON, and carry torch <= 1.10 / TensorFlow <= 2.7 (reference section 9).
# Container contract (EAS custom containers; the PAI SDK's defaults,
# ``pai/model/_model.py`` ``DefaultServiceConfig``): the server listens on
# LISTENING_PORT; 8080 and 9090 are reserved by EAS; the model is mounted at
# /eas/workspace/model and user code at /ml/usercode.
CONTAINER_PORT = 8000
PORT_ENV = "LISTENING_PORT"
CONTAINER_MODEL_DIR = "/eas/workspace/model"
CONTAINER_RUNTIME_DIR = "/ml/usercode"
CONTAINER_CODE_DIR = CONTAINER_RUNTIME_DIR  # --code DIR (the PAI SDK's DefaultServiceConfig.code_path)
CODE_SCRIPT_PREFIX = "cd /ml/usercode/\n"  # as container_serving_spec builds its script
MODEL_MOUNT_ENV = "MODEL_MOUNT_PATH"  # the PAI SDK's serving examples read the model folder from it
# The documented general-purpose Python image (JSON deployment doc's example).
OWN_SERVER_IMAGE = "eas-registry-vpc.{region}.cr.aliyuncs.com/pai-eas/python-inference:py39-ubuntu2004"
OWN_SERVER_COMMAND = "python -m pai_jupyter.model_server.eas_container"
PROCESSOR_ENV = "PAI_PROCESSOR"
MODEL_DIR_ENV = "PAI_MODEL_DIR"
# The container's model server loads a pickle only when told to (model_server/eas_container.py).
TRUST_PICKLE_ENV = "PAI_TRUST_PICKLE"
# Our container batches itself: EAS's metadata.rpc batching applies to its built-in processors.
BATCH_SIZE_ENV = "PAI_MAX_BATCH_SIZE"
BATCH_TIMEOUT_ENV = "PAI_MAX_BATCH_TIMEOUT_MS"

LABEL = "pai-jupyter."
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_NAME_HINT = (
    "use lowercase letters, digits and '_' (EAS's rule; '-' is accepted too), start with a letter, at most 64"
)


# -- the service ---------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceSpec:
    name: str
    processor: str
    instances: int = 1
    cpu: float = 1.0
    memory_mb: int = 1024
    gpu: int = 0
    resource_group: str | None = None  # EAS resource group (eas-r-...); None: the public pool
    env: str = "dev"
    autoscaler: AutoscalePolicy | None = None  # None: exactly ``instances`` instances
    signature: dict[str, Any] | None = None  # declared; otherwise read from the model
    command: str | None = None  # custom processor: a command that listens on $LISTENING_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY
    token: str | None = None  # None: generated at creation
    image: str | None = None  # custom processor on EAS: the container image
    # Server-side batching (specs/batching.py): both None = off; EAS: metadata.rpc.*
    max_batch_size: int | None = None  # requests per batch
    max_batch_timeout_ms: int | None = None  # longest wait of a queued request for others
    # sklearn: allow loading a pickle/joblib file, which runs code from it (a .skops file needs no trust)
    trust_pickle: bool = False
    # -- EAS resources (aliyun backend) --
    instance_type: str | None = None  # public pool: cloud.computing.instance_type, e.g. ecs.gn6i-c4g1.xlarge
    elastic_inference: str | None = None  # Elastic Inference accelerator type, e.g. eais.ei-a6.2xlarge
    # -- custom processor: the PAI SDK's serving layout (container_serving_spec in pai/model/_model.py) --
    code: str | None = None  # --code DIR, uploaded: the oss:// folder shown at /ml/usercode
    requirements: tuple[str, ...] = ()  # --requirements FILE: pip lines installed before the command

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(str(r) for r in self.requirements))
        if isinstance(self.autoscaler, dict):
            object.__setattr__(self, "autoscaler", AutoscalePolicy.from_dict(self.autoscaler))

    # -- validation ---------------------------------------------------------------
    def validate(self) -> ServiceSpec:
        """Raise ``ValidationError`` naming the first bad field; return self."""
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValidationError(f"service name {self.name!r} is not valid", _NAME_HINT)
        if self.processor not in PROCESSORS:
            raise ValidationError(
                f"processor {self.processor!r} is not supported", f"choose one of {', '.join(PROCESSORS)}"
            )
        if self.processor == "custom":
            if not (self.command or "").strip():
                raise ValidationError(
                    "a custom processor needs a command",
                    f"give --command 'python serve.py' that listens on the port in ${PORT_ENV}",
                )
            try:
                shlex.split(self.command or "")
            except ValueError as exc:
                raise ValidationError(f"--command could not be split: {exc}") from None
        elif self.command:
            raise ValidationError(
                f"--command is only for the custom processor, not {self.processor!r}",
                "drop --command or use --processor custom",
            )
        if self.processor != "custom" and (self.code or self.requirements):
            raise ValidationError(
                f"--code/--requirements are for the custom processor, not {self.processor!r}",
                "serve your own server with --processor custom --command ..., or drop --code/--requirements",
            )
        if self.env not in ENVIRONMENTS:
            raise ValidationError(
                f"environment {self.env!r} is unknown", f"choose one of {', '.join(ENVIRONMENTS)}"
            )
        if not _is_int(self.instances) or self.instances < 0:
            raise ValidationError(f"--instances must be a whole number >= 0, got {self.instances!r}")
        if self.instances > MAX_INSTANCES:
            raise ValidationError(f"--instances {self.instances} is above EAS's limit of {MAX_INSTANCES}")
        if not _is_number(self.cpu) or self.cpu <= 0:
            raise ValidationError(f"--cpu must be positive, got {self.cpu!r}")
        if not _is_int(self.memory_mb) or self.memory_mb < 64:
            raise ValidationError(f"--memory must be at least 64 MB, got {self.memory_mb!r}")
        if not _is_int(self.gpu) or self.gpu < 0:
            raise ValidationError(f"--gpu must be a whole number >= 0, got {self.gpu!r}")
        if self.resource_group is not None and not re.match(r"^[A-Za-z0-9_-]{1,128}$", self.resource_group):
            raise ValidationError(
                f"resource group {self.resource_group!r} is not valid",
                "write it like eas-r-xxxx; omit for the public pool",
            )
        _check_eas_resources(self)
        if not _is_int(self.max_body_bytes) or not 1 <= self.max_body_bytes <= MAX_BODY_LIMIT:
            raise ValidationError(
                f"--max-body {self.max_body_bytes!r} is out of range", f"the accepted range is {BODY_RANGE}"
            )
        if not isinstance(self.trust_pickle, bool):
            raise ValidationError(f"trust_pickle must be true or false, got {self.trust_pickle!r}")
        if self.token is not None and (len(self.token) < 8 or not self.token.isprintable() or " " in self.token):
            raise ValidationError("--token must be at least 8 printable characters without spaces")
        if self.signature is not None:
            _check_signature(self.signature)
        check_batching(self.max_batch_size, self.max_batch_timeout_ms)
        if self.processor == "custom" and self.max_batch_size is not None:
            # EAS batches inside its built-in processors; a container answers requests itself.
            raise ValidationError(
                "--max-batch-size/--max-batch-timeout are for built-in processors, not custom commands",
                "batch inside your server, or serve the model with a built-in processor",
            )
        if self.autoscaler is not None:
            self.autoscaler.validate(self.env)
            if not self.autoscaler.min <= self.instances <= self.autoscaler.max:
                raise ValidationError(
                    f"--instances {self.instances} is outside the autoscaler's range "
                    f"[{self.autoscaler.min}, {self.autoscaler.max}]",
                    "instances is the starting count; keep it between --min and --max",
                )
        elif self.instances == 0:
            raise ValidationError(
                "--instances 0 without an autoscaler would never serve",
                "use --min 0 --max N --scale-to-zero to start from zero",
            )
        return self

    @property
    def policy(self) -> AutoscalePolicy:
        """The autoscaler, or a fixed policy of ``instances`` when none is set."""
        return self.autoscaler or AutoscalePolicy.fixed(self.instances)

    def with_changes(self, **changes: Any) -> ServiceSpec:
        return replace(self, **changes)

    # -- JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["autoscaler"] = self.autoscaler.to_dict() if self.autoscaler else None
        data["requirements"] = list(self.requirements)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceSpec:
        data = _known(cls, data, "service spec")
        if isinstance(data.get("autoscaler"), dict):
            data["autoscaler"] = AutoscalePolicy.from_dict(data["autoscaler"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValidationError(f"service spec is incomplete: {exc}") from None

    # -- EAS service JSON --------------------------------------------------------------
    @property
    def eas_name(self) -> str:
        """EAS allows no '-' in service names."""
        return self.name.replace("-", "_")

    def eas_processor(self) -> str | None:
        """EAS's built-in processor code, or None when it runs as a container (every format, see above)."""
        return None

    def to_eas(self, model_path: str, region: str = "cn-hangzhou") -> dict[str, Any]:
        """The service JSON ``eascmd create`` (CreateService) takes."""
        self.validate()
        metadata: dict[str, Any] = {
            "instance": self.instances,
            "cpu": _num(self.cpu),
            "memory": self.memory_mb,
        }
        if self.gpu and self.resource_group:
            metadata["gpu"] = self.gpu  # a dedicated group's GPUs; the public pool goes by instance type
        if self.resource_group:
            metadata["resource"] = self.resource_group
        rpc = to_eas_rpc(self.max_batch_size, self.max_batch_timeout_ms)
        if rpc is not None:
            metadata["rpc"] = rpc
        body: dict[str, Any] = {"name": self.eas_name, "model_path": model_path}
        cloud = _eas_cloud(self)
        if cloud:
            body["cloud"] = cloud
        code = self.eas_processor()
        if code is not None:
            body["processor"] = code
        else:
            command = self.command if self.processor == "custom" else OWN_SERVER_COMMAND
            env = [{"name": PORT_ENV, "value": str(CONTAINER_PORT)}]
            if self.processor == "custom":  # where the PAI SDK's serving examples read the model from
                env.append({"name": MODEL_MOUNT_ENV, "value": CONTAINER_MODEL_DIR})
            else:
                env += [
                    {"name": PROCESSOR_ENV, "value": self.processor},
                    {"name": MODEL_DIR_ENV, "value": CONTAINER_MODEL_DIR},
                ]
                if self.trust_pickle:
                    env.append({"name": TRUST_PICKLE_ENV, "value": "1"})
                if self.max_batch_size is not None:
                    env.append({"name": BATCH_SIZE_ENV, "value": str(self.max_batch_size)})
                    env.append({"name": BATCH_TIMEOUT_ENV, "value": str(self.max_batch_timeout_ms)})
            container: dict[str, Any] = {
                "image": self.image or OWN_SERVER_IMAGE.format(region=region),
                "command": command,
                "port": CONTAINER_PORT,
                "env": env,
            }
            if self.code:
                # The PAI SDK's container_serving_spec: the code is mounted at /ml/usercode/ and the
                # container runs a script that changes there first (pai/model/_model.py).
                del container["command"]
                container["script"] = f"{CODE_SCRIPT_PREFIX}{command}\n"
            if self.requirements:
                # container_serving_spec: requirements -> prepare.pythonRequirements, installed by EAS
                # before the script runs.
                container["prepare"] = {"pythonRequirements": list(self.requirements)}
            body["containers"] = [container]
            # The model is mounted where the container contract expects it.
            body["storage"] = [{"mount_path": CONTAINER_MODEL_DIR, "oss": {"path": model_path, "readOnly": True}}]
            if self.code:
                body["storage"].append(
                    {"mount_path": CONTAINER_CODE_DIR + "/", "oss": {"path": self.code, "readOnly": True}}
                )
        body["metadata"] = metadata
        if self.token:
            body["token"] = self.token
        if self.autoscaler is not None:
            scaler = self.autoscaler
            body["autoscaler"] = {
                "min": scaler.min,
                "max": scaler.max,
                "strategies": {"qps": _num(scaler.qps_per_instance)},
                "behavior": self.autoscaler.to_eas_autoscaler()["behavior"],
            }
        labels = self._labels(code)
        if labels:
            body["labels"] = labels
        return body

    def _labels(self, code: str | None) -> dict[str, str]:
        labels: dict[str, str] = {}
        if self.eas_name != self.name:
            labels[LABEL + "name"] = self.name
        if code is None or _processor_from_code(code) != self.processor:
            labels[LABEL + "processor"] = self.processor
        if self.env != "dev":
            labels[LABEL + "env"] = self.env
        # The signature is no label: EAS labels take at most 128 bytes and no ',' or '='
        # (UpdateServiceLabel doc); the aliyun backend keeps it in the service's state on OSS.
        if self.max_body_bytes != DEFAULT_MAX_BODY:
            labels[LABEL + "max-body-bytes"] = str(self.max_body_bytes)
        if self.autoscaler is not None and self.autoscaler.tolerance != 0.1:
            labels[LABEL + "autoscaler-tolerance"] = repr(self.autoscaler.tolerance)
        if self.image and self.processor != "custom":
            labels[LABEL + "image"] = self.image
        if self.gpu and not self.resource_group:
            labels[LABEL + "gpu"] = str(self.gpu)  # the instance type carries the GPUs; keep the count
        return labels

    @classmethod
    def from_eas(cls, body: dict[str, Any]) -> ServiceSpec:
        """Read a service JSON (ours or one written for the console) back into a spec."""
        if not isinstance(body, dict):
            raise ValidationError("an EAS service JSON must be an object")
        metadata = body.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}
        name = labels.get(LABEL + "name") or body.get("name") or metadata.get("name")
        if not name:
            raise ValidationError("the EAS service JSON has no name", "set name or metadata.name")
        containers = body.get("containers") or []
        command = image = code = None
        requirements: tuple[str, ...] = ()
        trust_pickle = False
        processor = labels.get(LABEL + "processor")
        if body.get("processor"):
            processor = processor or _processor_from_code(str(body["processor"]))
        elif containers:
            first = containers[0]
            image = first.get("image")
            env = {str(e.get("name")): str(e.get("value")) for e in first.get("env") or [] if isinstance(e, dict)}
            if processor is None and first.get("command") == OWN_SERVER_COMMAND:
                processor = env.get(PROCESSOR_ENV)
            if processor is None:
                processor = "custom"
            if processor == "custom":
                command = first.get("command") or str(first.get("script") or "").removeprefix(CODE_SCRIPT_PREFIX)
                command = command.rstrip("\n") or None
                requirements = tuple((first.get("prepare") or {}).get("pythonRequirements") or ())
                code = next(
                    (
                        (st.get("oss") or {}).get("path")
                        for st in body.get("storage") or []
                        if str(st.get("mount_path", "")).rstrip("/") == CONTAINER_CODE_DIR
                    ),
                    None,
                )
            else:
                trust_pickle = env.get(TRUST_PICKLE_ENV) == "1"
            if processor != "custom" and image == OWN_SERVER_IMAGE.format(region=_region_of(image)):
                image = None
        if processor is None:
            raise ValidationError(
                f"EAS processor {body.get('processor')!r} is not one pai-jupyter serves",
                f"pai-jupyter serves {', '.join(PROCESSORS)}",
            )
        image = labels.get(LABEL + "image", image)
        tolerance = float(labels.get(LABEL + "autoscaler-tolerance", 0.1))
        autoscaler = None
        if body.get("autoscaler"):
            autoscaler = AutoscalePolicy.from_eas_autoscaler(body["autoscaler"], tolerance=tolerance)
        signature = json.loads(labels[LABEL + "signature"]) if LABEL + "signature" in labels else None
        max_batch_size, max_batch_timeout_ms = from_eas_metadata(metadata)
        return cls(
            name=str(name),
            processor=processor,
            instances=int(metadata.get("instance", 1)),
            cpu=float(metadata.get("cpu", 1)),
            memory_mb=int(metadata.get("memory", 1024)),
            gpu=int(metadata.get("gpu", 0) or 0) or int(labels.get(LABEL + "gpu", 0)),
            resource_group=metadata.get("resource") or None,
            env=labels.get(LABEL + "env", "dev"),
            autoscaler=autoscaler,
            signature=signature,
            command=command,
            max_body_bytes=int(labels.get(LABEL + "max-body-bytes", DEFAULT_MAX_BODY)),
            token=body.get("token") or None,
            image=image,
            max_batch_size=max_batch_size,
            max_batch_timeout_ms=max_batch_timeout_ms,
            trust_pickle=trust_pickle,
            instance_type=((body.get("cloud") or {}).get("computing") or {}).get("instance_type") or None,
            elastic_inference=((body.get("cloud") or {}).get("eais") or {}).get("type") or None,
            code=code,
            requirements=requirements,
        )


def _processor_from_code(code: str) -> str | None:
    code = code.lower()
    for prefix, ours in (
        ("onnx", "onnx"),
        ("pytorch", "torchscript"),
        ("tensorflow", "tensorflow"),
        ("xgboost", "xgboost"),
    ):
        if code.startswith(prefix):
            return ours
    return None


_INSTANCE_TYPE = re.compile(r"^ecs\.[a-z0-9-]+\.[a-z0-9-]+$")
_EI_TYPE = re.compile(r"^eais\.ei-[a-z0-9]+\.[a-z0-9-]+$")


def _check_eas_resources(spec: ServiceSpec) -> None:
    """GPU on the public pool needs an instance type; Elastic Inference needs a CPU instance there."""
    if spec.instance_type is not None and not _INSTANCE_TYPE.match(str(spec.instance_type)):
        raise ValidationError(
            f"instance type {spec.instance_type!r} is not an ECS type", "write it like ecs.gn6i-c4g1.xlarge"
        )
    if spec.gpu and not spec.resource_group and not spec.instance_type:
        # The public pool picks GPUs by instance type (cloud.computing.instance_type, as the
        # PAI SDK's Model.deploy sets it), not by metadata.gpu.
        raise ValidationError(
            f"--gpu {spec.gpu} on EAS's public pool needs a GPU instance type",
            "add --instance-type ecs.gn6i-c4g1.xlarge (1 T4), or --resource-group eas-r-... for a dedicated group",
        )
    if spec.elastic_inference is None:
        return
    if not _EI_TYPE.match(str(spec.elastic_inference)):
        raise ValidationError(
            f"Elastic Inference type {spec.elastic_inference!r} is not valid", "write it like eais.ei-a6.2xlarge"
        )
    if spec.gpu:
        raise ValidationError(
            "Elastic Inference attaches GPU capacity to CPU instances; this service already asks for GPUs",
            "drop --gpu or drop --elastic-inference",
        )
    if spec.resource_group:
        raise ValidationError(
            "Elastic Inference is attached to public-pool instances, not to a dedicated resource group",
            "drop --resource-group, or drop --elastic-inference",
        )
    if not spec.instance_type:
        raise ValidationError(
            "Elastic Inference needs the CPU instance type it attaches to", "add --instance-type ecs.c6.xlarge"
        )
    if spec.instance_type.split(".")[1].startswith(("gn", "gi", "ebm")):
        raise ValidationError(
            f"Elastic Inference attaches to CPU instances; {spec.instance_type} is a GPU type",
            "use a CPU type such as ecs.c6.xlarge or ecs.g6.xlarge",
        )


def _eas_cloud(spec: ServiceSpec) -> dict[str, Any]:
    cloud: dict[str, Any] = {}
    if spec.instance_type:
        cloud["computing"] = {"instance_type": spec.instance_type}
    if spec.elastic_inference:
        cloud["eais"] = {"type": spec.elastic_inference}  # key UNCONFIRMED: docs/aliyun.md
    return cloud


def _region_of(image: str | None) -> str:
    m = re.match(r"eas-registry-vpc\.([a-z0-9-]+)\.cr\.aliyuncs\.com/", image or "")
    return m.group(1) if m else "cn-hangzhou"


def _check_signature(signature: dict[str, Any]) -> None:
    """``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``."""
    hint = 'write it like {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 64]}], "outputs": [...]}'
    if not isinstance(signature, dict) or not set(signature) <= {"inputs", "outputs"}:
        raise ValidationError("the signature must have only 'inputs' and 'outputs'", hint)
    for side in ("inputs", "outputs"):
        items = signature.get(side, [])
        if not isinstance(items, list):
            raise ValidationError(f"signature {side} must be a list", hint)
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ValidationError(f"every signature {side[:-1]} needs a name", hint)
            shape = item.get("shape")
            if shape is not None and (
                not isinstance(shape, list)
                or not all(d is None or _is_int(d) or isinstance(d, str) for d in shape)
            ):
                raise ValidationError(f"signature {side[:-1]} {item['name']!r} has a bad shape {shape!r}", hint)


__all__ = [
    "DEFAULT_MAX_BODY",
    "ENVIRONMENTS",
    "MAX_INSTANCES",
    "PROCESSORS",
    "SCALE_TO_ZERO_ENVS",
    "AutoscalePolicy",
    "RolloutPlan",
    "ServiceSpec",
]
