"""The runtime a model format gets on EAS: our model server in a custom container.

Every built-in format (onnx, torchscript, tensorflow, sklearn, xgboost) is served
by ``pai_jupyter.model_server.eas_container`` in EAS's general Python image, so it
answers the same JSON ``{"inputs": ...}`` -> ``{"outputs": ...}`` as locally
(docs/aliyun.md, "Serving mapping", says why not EAS's built-in processors):

- the ``pai_jupyter`` serving code is *mounted*: the few modules the container
  imports are uploaded once per content hash to
  ``oss://<bucket>/pai-jupyter/runtime/<hash>/`` and mounted read-only at
  ``/ml/usercode`` (the PAI SDK's code mount path, ``container_serving_spec``),
  with ``PYTHONPATH`` pointing there;
- NumPy, the HTTP framing's ``httptools`` and ``multidict`` (``serving/http1.py``)
  and the model's framework are installed by the container's
  ``prepare.pythonRequirements`` (the PAI SDK's ``requirements=``), pinned to the
  version that saved the model (its ``provenance.json``, else this kernel's);
- that version is checked at deploy time against what the image's Python can
  install; a model the runtime cannot load is refused with both versions named.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from ...errors import ValidationError

# The framework distribution each format needs (CPU build; GPU services take the GPU one).
FRAMEWORK = {
    "onnx": ("onnxruntime", "onnxruntime-gpu"),
    "torchscript": ("torch", "torch"),
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "sklearn": ("scikit-learn", "scikit-learn"),
    "xgboost": ("xgboost", "xgboost"),
}
# The name a training environment records for the framework (provenance ``packages``).
_RECORDED = {"onnx": "onnxruntime", "torchscript": "torch", "tensorflow": "tensorflow", "sklearn": "scikit-learn"}

# The newest release with a manylinux x86_64 wheel for each Python, as pip resolved it
# against PyPI on 2026-12-02 (`pip install --dry-run --only-binary=:all: --python-version X.Y
# --platform manylinux_2_31_x86_64 ... NAME`): the newest each image's Python can install.
NEWEST = {
    (3, 9): {
        "numpy": "2.0.2",
        "scikit-learn": "1.6.1",
        "xgboost": "2.1.4",
        "onnxruntime": "1.19.2",
        "torch": "2.8.0",
        "tensorflow": "2.20.0",
    },
    (3, 10): {
        "numpy": "2.2.6",
        "scikit-learn": "1.7.2",
        "xgboost": "3.2.0",
        "onnxruntime": "1.23.2",
        "torch": "2.14.1",
        "tensorflow": "2.21.0",
    },
    (3, 11): {
        "numpy": "2.4.6",
        "scikit-learn": "1.9.1",
        "xgboost": "3.2.0",
        "onnxruntime": "1.32.0",
        "torch": "2.14.1",
        "tensorflow": "2.21.0",
    },
}
# Formats whose files load in the same or a newer runtime only (pickles, TorchScript
# archives, XGBoost/TF model files): the runtime installs exactly the saving version.
# ONNX files carry their own opset and load in any runtime that knows it, so the runtime
# takes the newest onnxruntime the image's Python can install.
_PORTABLE = {"onnx"}

# What the model server itself imports beyond the standard library (numpy; http1.py: httptools,
# multidict), installed before the framework; lower bounds as in pyproject.toml, each with wheels
# for Python 3.9 to 3.11.
SERVER_REQUIREMENTS = ["numpy", "httptools>=0.6", "multidict>=6.0"]

# The pai_jupyter modules the container imports (eas_container and what it needs).
RUNTIME_FILES = (
    "__init__.py",
    "_version.py",
    "reporting.py",
    "errors.py",
    "decisions/__init__.py",
    "decisions/signature.py",
    "model_server/__init__.py",
    "model_server/batching.py",
    "model_server/environ.py",
    "model_server/http1.py",
    "model_server/httpserver.py",
    "model_server/server.py",
    "model_server/eas_container.py",
    "model_server/processors/__init__.py",
    "model_server/processors/base.py",
    "model_server/processors/onnx.py",
    "model_server/processors/sklearn.py",
    "model_server/processors/tensorflow.py",
    "model_server/processors/torchscript.py",
    "model_server/processors/xgboost.py",
)


def _version_tuple(text: str) -> tuple[int, ...]:
    head = re.match(r"^\d+(\.\d+)*", str(text).strip())
    return tuple(int(p) for p in head.group(0).split(".")) if head else ()


def image_python(image: str) -> tuple[int, int] | None:
    """The Python an image carries, from its tag (``python-inference:py39-ubuntu2004`` -> 3.9)."""
    m = re.search(r":py3(\d+)\b|[:-]py3(\d+)-", image)
    if not m:
        return None
    return 3, int(m.group(1) or m.group(2))


def recorded_version(processor: str, packages: dict[str, str]) -> str | None:
    name = _RECORDED.get(processor, FRAMEWORK[processor][0])
    for key, version in packages.items():
        if key.lower().replace("_", "-") in (name, f"{name}-cpu", f"{name}-gpu"):
            return str(version)
    return None


def requirements(processor: str, image: str, packages: dict[str, str], gpu: bool) -> list[str]:
    """``prepare.pythonRequirements`` for a model of ``processor`` saved where ``packages`` were installed.

    Raises ``ValidationError`` naming the versions when the image's Python cannot
    install a runtime that loads the model.
    """
    dist = FRAMEWORK[processor][1 if gpu else 0]
    python = image_python(image)
    newest = NEWEST.get(python) if python else None
    saved = recorded_version(processor, packages)
    if saved is not None:
        saved = saved.split("+", 1)[0]  # 2.13.0+cpu: PyPI has no local versions
    label = image.rsplit("/", 1)[-1]
    if newest is None:
        # An image we know nothing about: pin what saved the model and let EAS install it.
        return [*SERVER_REQUIREMENTS, f"{dist}=={saved}" if saved else dist]
    ceiling = newest["tensorflow" if dist.startswith("tensorflow") else dist.replace("-gpu", "")]
    if processor in _PORTABLE:
        return [*SERVER_REQUIREMENTS, f"{dist}=={ceiling}"]
    if saved is None:
        raise ValidationError(
            f"cannot tell which {dist} version saved this {processor} model (no provenance.json beside it "
            f"and {dist} is not installed here)",
            f"deploy from the environment that trained it, or from a job's output (it records {dist})",
        )
    if _version_tuple(saved) > _version_tuple(ceiling):
        py = f"{python[0]}.{python[1]}" if python else "?"
        raise ValidationError(
            f"the model was saved with {dist} {saved}; the EAS runtime {label} has Python {py}, "
            f"where {dist} stops at {ceiling}, so it cannot load the model",
            f"retrain with {dist}<={ceiling}, or pass --image with a newer Python (a py310 or py311 tag)",
        )
    return [*SERVER_REQUIREMENTS, f"{dist}=={saved}"]


def runtime_files(root: Path | None = None) -> dict[str, bytes]:
    """The container's ``pai_jupyter`` files by path relative to the mount (``pai_jupyter/...``)."""
    base = root or Path(__file__).resolve().parents[2]  # pai_jupyter/ (this file: backends/aliyun/)
    return {f"pai_jupyter/{rel}": (base / rel).read_bytes() for rel in RUNTIME_FILES}


def runtime_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()[:16]


def environment_packages(provenance: dict[str, Any] | None) -> dict[str, str]:
    """Installed distributions from a model's provenance, else this kernel's."""
    packages = ((provenance or {}).get("environment") or {}).get("packages")
    if isinstance(packages, dict) and packages:
        return {str(k): str(v) for k, v in packages.items()}
    from ...provenance.environment import installed_distributions

    return installed_distributions()
