"""Durations as users write them: ``90``, ``90s``, ``15m``, ``2h``, ``1h30m``."""

from __future__ import annotations

import re

from .errors import ValidationError

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Return seconds; bare numbers are seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        pos, seconds, matched = 0, 0.0, False
        while pos < len(text):
            m = _PART.match(text, pos)
            if not m:
                raise ValidationError(
                    f"{what} {value!r} is not a duration", "write it like 90, 90s, 15m, 2h or 1h30m"
                )
            seconds += float(m.group(1)) * _UNIT[m.group(2)]
            pos, matched = m.end(), True
        if not matched:
            raise ValidationError(f"{what} is empty", "write it like 90, 90s, 15m, 2h or 1h30m")
    if seconds < 0:
        raise ValidationError(f"{what} {value!r} is negative")
    return seconds


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s" if s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if m else f"{hours}h"
