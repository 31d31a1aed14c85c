"""Put on a job worker's PYTHONPATH by the job runner when autologging is on (``--autolog``).

Installs pai-jupyter's framework hooks, then runs the ``sitecustomize`` this one shadows, if any,
so an environment's own start-up code still runs.
"""

import importlib.machinery
import importlib.util
import os
import sys

try:
    from pai_jupyter.autolog import install

    install()
except Exception as exc:  # pai-jupyter missing or broken: train without autologging
    print(f"pai-jupyter autolog: off ({exc!r})", file=sys.stderr)


def _run_shadowed() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_run_shadowed()
