"""A PyTorch Lightning ``Logger`` that sends ``self.log(...)`` metrics to ``report()``.

The ``Logger`` interface (``name``, ``version``, ``log_metrics(metrics, step)``,
``log_hyperparams(params)``) is Lightning's ``lightning.pytorch.loggers.logger.Logger``;
Lightning calls a logger on global rank 0 only (``rank_zero_only`` in its own loggers).
Works with both packages, ``lightning`` and ``pytorch_lightning``.
"""

from __future__ import annotations

import functools
import importlib
import types
from typing import Any

from ..reporting import report

_classes: dict[str, type] = {}


def logger_class(package: str) -> type:
    """``PaiLightningLogger`` for ``package`` (``lightning.pytorch`` or ``pytorch_lightning``)."""
    if package in _classes:
        return _classes[package]
    base = importlib.import_module(f"{package}.loggers.logger").Logger
    utils = importlib.import_module(f"{package}.utilities")

    class PaiLightningLogger(base):  # type: ignore[misc, valid-type]
        @property
        def name(self) -> str:
            return "pai"

        @property
        def version(self) -> str:
            return "0"

        @utils.rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            """Hyperparameters are the job's --hp (its spec); nothing to report here."""

        @utils.rank_zero_only
        def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
            values = {k: float(v) for k, v in metrics.items() if _is_number(v)}
            if values:
                report(step=step, **values)

    _classes[package] = PaiLightningLogger
    return PaiLightningLogger


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def patch_trainer(module: types.ModuleType) -> None:
    """Every ``Trainer`` of ``module`` gets our logger next to its own (none with ``logger=False``)."""
    trainer = module.Trainer  # type: ignore[attr-defined]
    if getattr(trainer.__init__, "_pai_autolog", False):
        return
    cls = logger_class(module.__name__)
    original = trainer.__init__

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if kwargs.get("logger", True) is False:
            return
        if not any(isinstance(lg, cls) for lg in self.loggers):
            self.loggers = [*self.loggers, cls()]

    __init__._pai_autolog = True  # type: ignore[attr-defined]
    trainer.__init__ = __init__
