"""The kernel environment: Python, every installed distribution, frameworks, CUDA.

Distributions come from ``importlib.metadata`` (no ``pip freeze`` subprocess),
framework versions and CUDA build tags from the distributions' own version
strings (``torch 2.3.1+cu121``), so no framework is imported. The result is
cached per state of ``sys.path`` (a folder's mtime changes when a package is
installed or removed there), which keeps repeated submissions cheap.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# Distributions whose versions are reported as "frameworks" (PyPI name -> label).
FRAMEWORKS = {
    "torch": "torch",
    "tensorflow": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "xgboost": "xgboost",
    "mxnet": "mxnet",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "scikit-learn": "scikit-learn",
    "onnxruntime": "onnxruntime",
    "onnxruntime-gpu": "onnxruntime",
    "transformers": "transformers",
    "lightgbm": "lightgbm",
    "paddlepaddle": "paddlepaddle",
}
# Environment variables worth recording (prefixes or exact names); secrets among them are redacted later.
ENV_PREFIXES = ("PAI_", "CUDA_", "NCCL_", "TORCH_", "TF_", "OMP_", "MKL_", "XLA_", "HF_", "DSW_", "JUPYTER_")
ENV_NAMES = ("PYTHONHASHSEED", "LANG", "LC_ALL", "TZ", "NVIDIA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG")

_CUDA_TAG = re.compile(r"\+cu(\d+)(\d)$")
_cache: dict[tuple, dict[str, str]] = {}


def _path_key() -> tuple:
    key = []
    for entry in sys.path:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            key.append((entry, None))
    return tuple(key)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _scan(folder: str) -> list[tuple[str, str]]:
    """``(name, version)`` of the distributions installed in one ``sys.path`` folder.

    Wheel installs name their metadata folder ``<name>-<version>.dist-info``
    (the name escaped so the first ``-`` separates them), which is read without
    opening any file; other layouts fall back to parsing the metadata.
    """
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info"))]
    except OSError:
        return []
    out = []
    for entry in sorted(entries, key=lambda e: e.name):
        stem = entry.name.rsplit(".", 1)[0]
        name, sep, version = stem.partition("-")
        if entry.name.endswith(".egg-info") or not sep or "-" in version:
            try:
                dist = metadata.PathDistribution(Path(entry.path))
                name, version = dist.metadata["Name"], dist.version
            except Exception:
                continue
            if not name or not version:
                continue
        out.append((_canonical(name), version))
    return out


def installed_distributions() -> dict[str, str]:
    """``{name: version}`` of every distribution importable from ``sys.path``, sorted by name."""
    key = _path_key()
    cached = _cache.get(key)
    if cached is not None:
        return dict(cached)
    found: dict[str, str] = {}
    for entry in sys.path:
        for name, version in _scan(entry or "."):
            found.setdefault(name, version)  # first on sys.path wins, as for imports
    result = dict(sorted(found.items()))
    _cache.clear()
    _cache[key] = result
    return dict(result)


def framework_versions(packages: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Framework name -> ``{"version", "build", "cuda"}`` from version strings like ``2.3.1+cu121``."""
    out: dict[str, dict[str, Any]] = {}
    for dist, label in FRAMEWORKS.items():
        version = packages.get(dist)
        if version is None or label in out:
            continue
        _, _, build = version.partition("+")
        match = _CUDA_TAG.search(version)
        cuda = f"{match.group(1)}.{match.group(2)}" if match else None
        if cuda is None:  # wheels built against pip-installed CUDA (torch on Linux without a +tag)
            runtime = packages.get("nvidia-cuda-runtime-cu12") or packages.get("nvidia-cuda-runtime-cu11")
            cuda = runtime if (runtime and label in ("torch", "jaxlib", "tensorflow")) else None
        out[label] = {"version": version, "build": build or None, "cuda": cuda}
    return out


def cuda_info() -> dict[str, Any] | None:
    """Driver version and GPUs through NVML when a driver is present; None otherwise."""
    if not (Path("/proc/driver/nvidia").exists() or os.environ.get("NVIDIA_VISIBLE_DEVICES")):
        return None  # no driver: skip loading NVML at all (fast path on CPU machines)
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                {"index": i, "name": _text(pynvml.nvmlDeviceGetName(handle)), "memory_mb": memory.total // 2**20}
            )
        return {"driver": _text(driver), "cuda_driver": f"{cuda // 1000}.{(cuda % 1000) // 10}", "gpus": gpus}
    except Exception:
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def selected_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    return {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}


def capture_environment(cwd: Path | str | None = None) -> dict[str, Any]:
    packages = installed_distributions()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "cwd": str(Path(cwd or Path.cwd()).resolve()),
        "frameworks": framework_versions(packages),
        "cuda": cuda_info(),
        "env": selected_env(),
        "packages": packages,
    }
