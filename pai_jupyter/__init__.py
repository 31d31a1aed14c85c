"""pai-jupyter: from a notebook to a production endpoint, on Alibaba Cloud PAI or locally.

Extension points (IPython magics, Jupyter server extension, prebuilt
labextension) and the public API. Heavy modules are imported lazily so that
``import pai_jupyter`` inside a training job (for ``report``) stays cheap.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .reporting import report

__all__ = [
    "Checkpointer",
    "Job",
    "JobSpec",
    "PaiConfig",
    "Pipeline",
    "Service",
    "__version__",
    "deploy",
    "download",
    "get_job",
    "get_service",
    "jobs",
    "report",
    "services",
    "submit",
    "upload",
]

_LAZY = {
    "Job": "pai_jupyter.api.jobs",
    "submit": "pai_jupyter.api.jobs",
    "get_job": "pai_jupyter.api.jobs",
    "jobs": "pai_jupyter.api.jobs",
    "upload": "pai_jupyter.api.jobs",
    "download": "pai_jupyter.api.jobs",
    "JobSpec": "pai_jupyter.specs.job",
    "PaiConfig": "pai_jupyter.config",
    "Checkpointer": "pai_jupyter.checkpoint",
    "Service": "pai_jupyter.api.services",
    "deploy": "pai_jupyter.api.services",
    "services": "pai_jupyter.api.services",
    "get_service": "pai_jupyter.api.services",
    "Pipeline": "pai_jupyter.api.pipelines",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pai_jupyter' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext pai_jupyter``: registers the magics (works in any IPython kernel)."""
    from .frontends.magics import load_magics

    load_magics(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .frontends.magics import unload_magics

    unload_magics(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.extension import PaiExtension

    return [{"module": "pai_jupyter.server.extension", "app": PaiExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "pai-jupyter"}]
