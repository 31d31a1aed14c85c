"""Which way a metric is better, and which run of an experiment is best: pure functions.

The direction rule: names that measure an error or a cost (``loss``, ``val_loss``, ``mse``,
``error_rate``, ``perplexity``, ``latency_ms``...) are better when lower; names that measure a
success (``accuracy``, ``f1``, ``auc``, ``bleu``, ``score``...) are better when higher; any other
name is taken as lower-is-better (a loss is what most scripts report) unless the caller says
``maximize``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_LOWER = re.compile(r"loss|err|mse|mae|rmse|perplexity|ppl|wer|cer|latency|time|_ms$|_s$|cost|regret|nll")
_HIGHER = re.compile(
    r"acc|f1|auc|precision|recall|bleu|rouge|score|iou|map\b|^map|r2|reward|return|throughput|per_sec|qps"
)


def maximize_metric(name: str, maximize: bool | None = None) -> bool:
    """True when a higher value of ``name`` is better (``maximize`` overrides the rule)."""
    if maximize is not None:
        return maximize
    lowered = name.lower()
    if _LOWER.search(lowered):
        return False
    return bool(_HIGHER.search(lowered))


def best_index(finals: Sequence[Mapping[str, float]], metric: str, maximize: bool | None = None) -> int | None:
    """Index of the run whose final ``metric`` is best; None when no run reported it."""
    higher = maximize_metric(metric, maximize)
    best: tuple[float, int] | None = None
    for index, values in enumerate(finals):
        value = values.get(metric)
        if value is None:
            continue
        key = -value if higher else value
        if best is None or key < best[0]:
            best = (key, index)
    return None if best is None else best[1]


def sort_key(value: object) -> tuple[int, float, str]:
    """Sort missing values last, numbers numerically, everything else as text."""
    if value is None or value == "":
        return (2, 0.0, "")
    if isinstance(value, bool):
        return (1, 0.0, str(value))
    if isinstance(value, int | float):
        return (0, float(value), "")
    try:
        return (0, float(str(value)), "")
    except ValueError:
        return (1, 0.0, str(value))
