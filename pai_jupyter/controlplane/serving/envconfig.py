"""Local serving settings: ``PAI_SERVING_<FIELD>`` or ``c.PaiServing.<field>`` (``jupyter_pai_config``)
over the serving config dataclasses' defaults; resolved by ``pai_jupyter.config``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

from ...config import serving_setting
from ...errors import ValidationError

C = TypeVar("C")


def env_overrides(cfg: C, names: Iterable[str] | None = None) -> C:
    """Set each field of the dataclass ``cfg`` (or only ``names``) from its configured value, when set.

    ``int`` fields parse as int, the rest as float; a value that does not parse is a ValidationError."""
    wanted = None if names is None else set(names)
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        if wanted is not None and f.name not in wanted:
            continue
        found = serving_setting(f.name)
        if found is None:
            continue
        raw, source = found
        as_int = f.type in ("int", int)
        try:
            value: Any = int(raw) if as_int else float(raw)
        except (TypeError, ValueError):
            kind = "a whole number" if as_int else "a number"
            where = source.split(" ", 1)[1]
            raise ValidationError(
                f"{where}={raw!r} is not {kind}", f"set {where} to {kind}, or unset it"
            ) from None
        setattr(cfg, f.name, value)
    return cfg
