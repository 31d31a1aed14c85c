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

# Built-in EAS processor codes for ours (reference §3.3); ``None``: EAS has no
# built-in one, the model is served by our own server in a container.
_EAS_PROCESSORS_CPU = {
    "onnx": "onnx",
    "torchscript": "pytorch_cpu_1.10",
    "tensorflow": "tensorflow_cpu_2.3",
    "xgboost": "xgboost",
    "sklearn": None,
}
_EAS_PROCESSORS_GPU = {
    "onnx": "onnx_cu100",
    "torchscript": "pytorch_gpu_1.10",
    "tensorflow": "tensorflow_gpu_1.15",
    "xgboost": "xgboost",
    "sklearn": None,
}
# Container contract (EAS custom containers; alipai's defaults): the server
# listens on LISTENING_PORT; 8080 and 9090 are reserved by EAS.
CONTAINER_PORT = 8000
PORT_ENV = "LISTENING_PORT"
CONTAINER_MODEL_DIR = "/eas/workspace/model"
# Our own model server, for processors EAS has no built-in for (sklearn).
OWN_SERVER_IMAGE = "eas-registry-vpc.{region}.cr.aliyuncs.com/pai-eas/python-inference:py39-ubuntu2004"
OWN_SERVER_COMMAND = (
    "python -m pai_jupyter.serving.model_server --processor {processor} --model " + CONTAINER_MODEL_DIR
)
TRUST_PICKLE_FLAG = "--trust-pickle"  # the model server loads a pickle only when told to

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

    def __post_init__(self) -> None:
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
        """EAS's built-in processor code, or None when it runs as a container."""
        if self.processor == "custom":
            return None
        table = _EAS_PROCESSORS_GPU if self.gpu else _EAS_PROCESSORS_CPU
        return table[self.processor]

    def to_eas(self, model_path: str, region: str = "cn-hangzhou") -> dict[str, Any]:
        """The service JSON ``eascmd create`` (CreateService) takes."""
        self.validate()
        metadata: dict[str, Any] = {
            "instance": self.instances,
            "cpu": _num(self.cpu),
            "memory": self.memory_mb,
        }
        if self.gpu:
            metadata["gpu"] = self.gpu
        if self.resource_group:
            metadata["resource"] = self.resource_group
        rpc = to_eas_rpc(self.max_batch_size, self.max_batch_timeout_ms)
        if rpc is not None:
            metadata["rpc"] = rpc
        body: dict[str, Any] = {"name": self.eas_name, "model_path": model_path}
        code = self.eas_processor()
        if code is not None:
            body["processor"] = code
        else:
            command = (
                self.command if self.processor == "custom" else OWN_SERVER_COMMAND.format(processor=self.processor)
            )
            if self.trust_pickle and self.processor != "custom":
                command += " " + TRUST_PICKLE_FLAG
            container: dict[str, Any] = {
                "image": self.image or OWN_SERVER_IMAGE.format(region=region),
                "command": command,
                "port": CONTAINER_PORT,
                "env": [{"name": PORT_ENV, "value": str(CONTAINER_PORT)}],
            }
            body["containers"] = [container]
            # The model is mounted where the container contract expects it.
            body["storage"] = [{"mount_path": CONTAINER_MODEL_DIR, "oss": {"path": model_path, "readOnly": True}}]
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
        if self.signature is not None:
            labels[LABEL + "signature"] = json.dumps(self.signature, sort_keys=True, separators=(",", ":"))
        if self.max_body_bytes != DEFAULT_MAX_BODY:
            labels[LABEL + "max-body-bytes"] = str(self.max_body_bytes)
        if self.autoscaler is not None and self.autoscaler.tolerance != 0.1:
            labels[LABEL + "autoscaler-tolerance"] = repr(self.autoscaler.tolerance)
        if self.image and self.processor != "custom":
            labels[LABEL + "image"] = self.image
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
        command = image = None
        trust_pickle = False
        processor = labels.get(LABEL + "processor")
        if body.get("processor"):
            processor = processor or _processor_from_code(str(body["processor"]))
        elif containers:
            first = containers[0]
            image = first.get("image")
            if processor is None:
                processor = "custom"
            if processor == "custom":
                command = first.get("command") or first.get("script")
            else:
                trust_pickle = TRUST_PICKLE_FLAG in str(first.get("command") or "").split()
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
            gpu=int(metadata.get("gpu", 0) or 0),
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
