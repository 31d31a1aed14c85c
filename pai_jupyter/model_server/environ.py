"""Serving settings onto the serving config dataclasses: ``PAI_SERVING_<FIELD>``.

The model server runs alone in an instance or an EAS container, without the
configuration loader (``pai_jupyter.config``): it reads the environment only
(``env_overrides``), and the control plane's settings reach it through the environment
its instances inherit. The control plane reads the same names through the loader
(``controlplane.serving.envconfig``: flag > environment > config file > default); both
parse and check values with ``apply_overrides``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..errors import ValidationError

C = TypeVar("C")
# field name -> (raw value, where it came from, e.g. "env PAI_SERVING_X"), or None when unset
Lookup = Callable[[str], "tuple[str, str] | None"]


def apply_overrides(cfg: C, lookup: Lookup, names: Iterable[str] | None = None) -> C:
    """Set each field of the dataclass ``cfg`` (or only ``names``) from ``lookup`` when it has a value.

    ``int`` fields parse as int, the rest as float; a value that does not parse is a ValidationError
    naming where it came from."""
    wanted = None if names is None else set(names)
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        if wanted is not None and f.name not in wanted:
            continue
        found = lookup(f.name)
        if found is None:
            continue
        raw, source = found
        as_int = f.type in ("int", int)
        try:
            value: Any = int(raw) if as_int else float(raw)
        except (TypeError, ValueError):
            kind = "a whole number" if as_int else "a number"
            where = source.split(" ", 1)[-1]
            raise ValidationError(
                f"{where}={raw!r} is not {kind}", f"set {where} to {kind}, or unset it"
            ) from None
        setattr(cfg, f.name, value)
    return cfg


def _from_environ(name: str) -> tuple[str, str] | None:
    var = f"PAI_SERVING_{name.upper()}"
    raw = os.environ.get(var)
    return (raw, f"env {var}") if raw else None


def env_overrides(cfg: C, names: Iterable[str] | None = None) -> C:
    """``apply_overrides`` from ``PAI_SERVING_<FIELD>`` environment variables."""
    return apply_overrides(cfg, _from_environ, names)
