"""Small checks and conversions the spec modules share."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from ..errors import ValidationError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float) -> int | float:
    """Write 2.0 as 2 (EAS fields are integers where a user wrote an integer)."""
    return int(value) if float(value).is_integer() else value


def _known(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValidationError(
            f"unknown {what} field(s): {', '.join(unknown)}", f"known: {', '.join(sorted(names))}"
        )
    return dict(data)
