"""Durations as users write them: ``90``, ``90s``, ``15m``, ``2h``, ``1h30m``."""

from __future__ import annotations

import math
import re

from .errors import ValidationError

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_HINT = "write it like 90, 90s, 15m, 2h or 1h30m"
# No setting (a run-time cap, a cooldown, a checkpoint interval) means anything past a year:
# a larger figure is a typo, and an unbounded one overflows the clocks it is added to.
MAX_SECONDS = 365 * 86400.0
RANGE = "0s to 365d"


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Return seconds; bare numbers are seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        pos, seconds, parts = 0, 0.0, []
        while pos < len(text):
            m = _PART.match(text, pos)
            if not m:
                raise ValidationError(f"{what} {value!r} is not a duration", _HINT)
            parts.append(m)
            seconds += float(m.group(1)) * _UNIT[m.group(2)]
            pos = m.end()
        if not parts:
            raise ValidationError(f"{what} is empty", _HINT)
        if len(parts) > 1 and not parts[-1].group(2):
            # "1h30": minutes or seconds? Only a lone bare number means seconds.
            unit = {"d": "h", "h": "m", "m": "s", "s": "s"}[parts[-2].group(2)]
            guess = text + unit
            raise ValidationError(
                f"{what} {value!r} is ambiguous: the last number has no unit",
                f"write {guess!r}, or give the last number its unit",
            )
    if math.isnan(seconds) or seconds < 0:
        raise ValidationError(f"{what} {_short(value)} is not a duration from {RANGE}", _HINT)
    if seconds > MAX_SECONDS:
        raise ValidationError(f"{what} {_short(value)} is out of range", f"the accepted range is {RANGE}")
    return seconds


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s" if s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if m else f"{hours}h"
