"""What an experiment is called when the user names none: the notebook's name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_EXPERIMENT = "default"


def experiment_name(text: str) -> str:
    """A notebook path or any text as an experiment name (letters of any script, digits, ``_.-``;
    128 at most): ``My Model v2.ipynb`` -> ``My-Model-v2``, ``实验 一.ipynb`` -> ``实验-一``."""
    base = os.path.basename(str(text).rstrip("/"))
    base = re.sub(r"\.ipynb$", "", base)
    return re.sub(r"[^\w.-]+", "-", base).strip("-.")[:128] or DEFAULT_EXPERIMENT


def default_experiment(user_ns: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The notebook's name, as the kernel knows it.

    ipykernel puts the notebook's path in ``__session__`` (ipykernel/ipkernel.py, from the
    ``JPY_SESSION_NAME`` variable that jupyter-server sets when it starts a notebook's kernel,
    jupyter_server/services/sessions/sessionmanager.py); outside a notebook: ``default``.
    """
    environ = os.environ if environ is None else environ
    for value in ((user_ns or {}).get("__session__"), environ.get("JPY_SESSION_NAME")):
        if isinstance(value, str) and value.strip():
            return experiment_name(value)
    return DEFAULT_EXPERIMENT
