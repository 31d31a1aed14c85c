"""The model server's own settings: ``PAI_SERVING_<FIELD>`` environment variables only.

It runs alone in an instance or an EAS container, without the configuration loader
(``pai_jupyter.config``); the control plane's settings reach it through the environment
its instances inherit. The control plane itself reads the same names through
``controlplane.serving.envconfig`` (flag > environment > config file > default)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any, TypeVar

from ..errors import ValidationError

C = TypeVar("C")


def env_overrides(cfg: C, names: Iterable[str] | None = None) -> C:
    """Set each field of the dataclass ``cfg`` (or only ``names``) from ``PAI_SERVING_<FIELD>`` when set.

    ``int`` fields parse as int, the rest as float; a value that does not parse is a ValidationError."""
    wanted = None if names is None else set(names)
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        if wanted is not None and f.name not in wanted:
            continue
        var = f"PAI_SERVING_{f.name.upper()}"
        raw = os.environ.get(var)
        if not raw:
            continue
        as_int = f.type in ("int", int)
        try:
            value: Any = int(raw) if as_int else float(raw)
        except ValueError:
            kind = "a whole number" if as_int else "a number"
            raise ValidationError(f"{var}={raw!r} is not {kind}", f"set {var} to {kind}, or unset it") from None
        setattr(cfg, f.name, value)
    return cfg
