"""Local serving settings: ``PAI_SERVING_<FIELD>`` or ``c.PaiServing.<field>`` (``jupyter_pai_config``)
over the serving config dataclasses' defaults; resolved by ``pai_jupyter.config``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ...config import serving_setting
from ...model_server.environ import apply_overrides

C = TypeVar("C")


def env_overrides(cfg: C, names: Iterable[str] | None = None) -> C:
    """Set each field of the dataclass ``cfg`` (or only ``names``) from its configured value, when set.

    ``int`` fields parse as int, the rest as float; a value that does not parse is a ValidationError."""
    return apply_overrides(cfg, serving_setting, names)
