"""The PAI workspace around a DLC job: which workspace (inside DSW) and which image.

- Workspace: ``PaiConfig.workspace_id``; else, in a DSW instance (``DSW_INSTANCE_ID``), the
  instance's own workspace through PAI-DSW ``GetInstance`` (``alibabacloud-pai-dsw20220101``),
  as the PAI SDK's default session does (``Session._get_workspace_id_by_dsw_instance_id`` in
  pai/session.py). The region is the one the instance exports (``REGION`` / ``dsw_region``,
  ``_get_current_region_id`` there), read by ``PaiConfig.region``.
- Bucket: in DSW with no ``PAI_JUPYTER_OSS_BUCKET``, the workspace's default OSS storage
  (AIWorkspace ``ListConfigs``, key ``modelExportPath``), as ``Session.get_default_oss_storage``
  in pai/session.py finds it.
- Image: when a job names no ``--image``, the official DLC image of its framework closest to
  the kernel's captured environment (same framework major.minor, Python, CUDA; the newest
  among equals) from AIWorkspace ``ListImages`` (``alibabacloud-aiworkspace20210204``), filtered the way
  the PAI SDK's ``pai.image.retrieve`` filters (labels ``system.official=true``,
  ``system.supported.dlc=true``, ``system.chipType=CPU|GPU``; the framework from the
  repository name, its version and CUDA from the tag, Python from ``system.pythonVersion``),
  keeping only Python >= 3.10, which the pai-jupyter runtime needs.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from ...config import PaiConfig, in_dsw
from ...errors import ValidationError
from ...specs.job import JobSpec
from .credentials import openapi_config, region_endpoint
from .sdk_errors import read_call

# Our framework -> the PAI image framework name (pai/api/image.py SUPPORTED_IMAGE_FRAMEWORKS).
IMAGE_FRAMEWORKS = {"pytorch": "PyTorch", "python": "PyTorch", "tensorflow": "TensorFlow", "xgboost": "XGBoost"}
MIN_PYTHON = (3, 10)
# pai/image.py: _PAI_IMAGE_URI_PATTERN and _PAI_IMAGE_TAG_PATTERN_TRAINING.
_URI = re.compile(r"([\S]+)/([\S]+)/([\S]+):([\S]+)")
_TAG = re.compile(r"([\w._-]+)-(gpu|cpu|mkl-cpu)-(py\d+)(?:-(cu\d+))?-([\S]+)")
_GPU_FAMILY = re.compile(r"^ecs\.(gn|ebmgn|sgn|vgn|gi|ebmgi)")
# (DSW endpoint, instance id) -> workspace id: an instance never changes workspace, so one
# GetInstance per process is enough however many backends are built.
_INSTANCE_WORKSPACES: dict[tuple[str, str], str] = {}


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text or ""))


def needs_gpu(spec: JobSpec) -> bool:
    instance = spec.dlc_instance_type() or ""
    return bool(spec.gpu_count) or bool(_GPU_FAMILY.match(instance))


class PaiWorkspace:
    """Lazily built AIWorkspace and DSW clients; answers are cached for the session."""

    def __init__(self, config: PaiConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._images: dict[tuple[str, bool], str] = {}
        self._workspace: str | None = None

    # -- workspace ------------------------------------------------------------------------
    def workspace_id(self) -> str:
        """The configured workspace, else the DSW instance's own (GetInstance); '' outside DSW."""
        if self.config.workspace_id:
            return self.config.workspace_id
        if self._workspace is not None:
            return self._workspace
        instance = os.environ.get("DSW_INSTANCE_ID", "")
        if not in_dsw() or not instance:
            return ""
        from alibabacloud_pai_dsw20220101 import models
        from alibabacloud_pai_dsw20220101.client import Client

        endpoint = region_endpoint(self.config, "dsw")
        if (endpoint, instance) in _INSTANCE_WORKSPACES:
            self._workspace = _INSTANCE_WORKSPACES[(endpoint, instance)]
            return self._workspace
        client = Client(openapi_config(self.config, "dsw"))
        body = read_call(
            f"GetInstance {instance} (the DSW instance's workspace)",
            endpoint,
            "set PaiConfig.workspace_id (PAI_JUPYTER_WORKSPACE_ID) if the instance's RAM role cannot read it",
            lambda: client.get_instance(instance, models.GetInstanceRequest()).body,
        )
        workspace = str(body.workspace_id or "")
        if not workspace:
            raise ValidationError(
                f"DSW instance {instance} reports no workspace",
                "set PaiConfig.workspace_id (PAI_JUPYTER_WORKSPACE_ID)",
            )
        self._workspace = _INSTANCE_WORKSPACES[(endpoint, instance)] = workspace
        return workspace

    def default_bucket(self) -> str:
        """The workspace's default OSS storage bucket (``modelExportPath``), '' when none is set."""
        workspace = self.workspace_id()
        if not workspace:
            return ""
        from alibabacloud_aiworkspace20210204 import models
        from alibabacloud_aiworkspace20210204.client import Client

        client = Client(openapi_config(self.config, "workspace"))
        body = read_call(
            f"ListConfigs {workspace} modelExportPath",
            region_endpoint(self.config, "workspace"),
            "set PAI_JUPYTER_OSS_BUCKET",
            lambda: client.list_configs(workspace, models.ListConfigsRequest(config_keys="modelExportPath")).body,
        )
        for item in body.configs or []:
            value = str(item.config_value or "")
            if item.config_key == "modelExportPath" and value.startswith("oss://"):
                return value[len("oss://") :].split("/", 1)[0].split(".", 1)[0]
        return ""

    # -- images ---------------------------------------------------------------------------
    def image_for(self, spec: JobSpec, environment: dict[str, Any] | None = None) -> str:
        """``spec.image``, else the official DLC image for its framework, Python >= 3.10, closest to
        the kernel's captured ``environment`` (framework version, Python, CUDA), newest among equals."""
        return self.image_choice(spec, environment)[0]

    def image_choice(self, spec: JobSpec, environment: dict[str, Any] | None = None) -> tuple[str, str]:
        """(image URI, why it was chosen)."""
        if spec.image:
            return spec.image, "--image"
        framework = IMAGE_FRAMEWORKS.get(spec.framework)
        if framework is None:
            raise ValidationError(
                f"PAI publishes no official {spec.framework} training image",
                "pass --image <registry>/<namespace>/<repo>:<tag> with Python >= 3.10",
            )
        gpu = needs_gpu(spec)
        key = (framework, gpu)
        with self._lock:
            if key not in self._images:
                self._images[key] = self._candidates(framework, gpu)
            candidates = self._images[key]
        if not candidates:
            chip = "GPU" if gpu else "CPU"
            raise ValidationError(
                f"the workspace's image list has no official {framework} {chip} image with Python >= 3.10",
                "pass --image <registry>/<namespace>/<repo>:<tag>",
            )
        want = kernel_wants(framework, environment, gpu)
        best = max(candidates, key=lambda c: (_matches(c[0], want), c[0]))
        matched = [
            name for name, hit in zip(("framework", "Python", "CUDA"), _matches(best[0], want), strict=True) if hit
        ]
        why = (
            f"matches the kernel's {', '.join(matched)}" if matched else "the newest (nothing matches the kernel)"
        )
        return best[1], why

    def _candidates(self, framework: str, gpu: bool) -> list[tuple[Any, str]]:
        from alibabacloud_aiworkspace20210204 import models
        from alibabacloud_aiworkspace20210204.client import Client

        chip = "GPU" if gpu else "CPU"
        labels = ",".join(["system.official=true", "system.supported.dlc=true", f"system.chipType={chip}"])
        request = models.ListImagesRequest(
            labels=labels,
            name=framework.lower(),
            verbose=True,
            page_number=1,
            page_size=100,
            sort_by="GmtCreateTime",
            order="DESC",
        )
        client = Client(openapi_config(self.config, "workspace"))
        body = read_call(
            f"ListImages {framework} {chip}",
            region_endpoint(self.config, "workspace"),
            "pass --image to skip the image lookup",
            lambda: client.list_images(request).body.to_map(),
        )
        out = []
        for image in body.get("Images") or []:
            candidate = _candidate(image, framework)
            if candidate is not None:
                out.append(candidate)
        return out


# The distribution whose version names an image's framework version (pai/image.py tags).
_FRAMEWORK_DISTS = {"PyTorch": "torch", "TensorFlow": "tensorflow", "XGBoost": "xgboost"}


def kernel_wants(
    framework: str, environment: dict[str, Any] | None, gpu: bool
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(framework major.minor, Python major.minor, CUDA as in the image tag) the kernel has; () unknown."""
    environment = environment or {}
    info = (environment.get("frameworks") or {}).get(_FRAMEWORK_DISTS.get(framework, "")) or {}
    version = _version(str(info.get("version") or "").split("+", 1)[0])[:2]
    python = _version(str((environment.get("python") or {}).get("version") or ""))[:2]
    cuda_text = str(info.get("cuda") or "") if gpu else ""
    cuda = (int("".join(str(p) for p in _version(cuda_text)[:2])),) if cuda_text and _version(cuda_text) else ()
    return version, python, cuda


def _matches(have: tuple[Any, ...], want: tuple[tuple[int, ...], ...]) -> tuple[bool, bool, bool]:
    """Which of (framework, Python, CUDA) of an image's ``have`` equal what the kernel wants."""
    version, python, cuda = have
    return (
        bool(want[0]) and version[: len(want[0])] == want[0],
        bool(want[1]) and python[: len(want[1])] == want[1],
        bool(want[2]) and cuda == want[2],
    )


def _candidate(image: dict[str, Any], framework: str) -> tuple[Any, str] | None:
    """((framework version, Python, CUDA), uri) for a usable image of ``framework``, else None."""
    uri = str(image.get("ImageUri") or "")
    m = _URI.match(uri)
    if not m:
        return None
    repo, tag = m.group(3), m.group(4)
    name = repo.removesuffix("-training")
    if name.lower() != framework.lower():
        return None
    labels = {lb.get("Key"): lb.get("Value") for lb in image.get("Labels") or []}
    t = _TAG.match(tag)
    python = _version(labels.get("system.pythonVersion") or (t.group(3)[2:3] + "." + t.group(3)[3:] if t else ""))
    if python < MIN_PYTHON:
        return None
    version = _version(t.group(1) if t else "")
    cuda = _version(t.group(4) if t and t.group(4) else "")
    return (version, python, cuda), uri
