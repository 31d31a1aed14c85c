"""IPython magics: ``%%pai_train`` and friends (``jobs``), ``%pai_deploy`` and
friends (``services``), ``%pai_doctor`` (``doctor``), ``%pai_lineage`` / ``%pai_reproduce`` (``lineage``), ``%%pai_pipeline`` / ``%pai_pipelines`` (``pipelines``); ``load_magics`` registers them all.
"""

from __future__ import annotations

from typing import Any

from ...config import set_current_config
from .doctor import DoctorMagics
from .jobs import PaiMagics
from .lineage import LineageMagics
from .pipelines import PipelineMagics
from .services import ServingMagics


def load_magics(ipython: Any) -> None:
    ipython.register_magics(PaiMagics)
    ipython.register_magics(ServingMagics)
    ipython.register_magics(DoctorMagics)
    ipython.register_magics(LineageMagics)
    ipython.register_magics(PipelineMagics)


def unload_magics(ipython: Any) -> None:
    set_current_config(None)
