"""Setting up and tearing down an isolated local backend for a benchmark."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path


def isolate(prefix: str = "pai-bench-") -> Path:
    """Point the local backend at a fresh state folder (its own control plane); returns the folder."""
    from pai_jupyter.backends.registry import reset_backends
    from pai_jupyter.config import set_current_config

    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["PAI_JUPYTER_HOME"] = str(home / "home")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    os.environ["PAI_JUPYTER_BACKEND"] = "local"
    reset_backends()
    set_current_config(None)
    return home


def stop_server() -> None:
    """Stop the control plane of the current state folder, quietly, and forget cached backends."""
    from pai_jupyter.backends.registry import reset_backends
    from pai_jupyter.config import set_current_config
    from pai_jupyter.frontends.cli.main import main

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            main(["server", "stop"])
    except SystemExit:
        pass
    reset_backends()
    set_current_config(None)
