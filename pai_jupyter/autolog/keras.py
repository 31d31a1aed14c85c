"""A Keras 3 ``Callback`` that sends ``fit``'s logs to ``report()``.

Keras calls ``on_train_batch_end(batch, logs)`` and ``on_epoch_end(epoch, logs)`` with the
running metrics (and ``val_*`` at the end of an epoch), keras.callbacks.Callback's documented
interface. The step is the number of batches seen since ``fit`` started.
"""

from __future__ import annotations

import functools
import types
from typing import Any

from ..reporting import report

_class: type | None = None


def callback_class(keras: types.ModuleType) -> type:
    global _class
    if _class is not None:
        return _class

    class PaiKerasCallback(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.step = 0

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.step += 1
            values = _numbers(logs)
            if values:
                report(step=self.step, **values)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            values = _numbers(logs)
            if values:
                report(step=self.step, epoch=epoch + 1, **values)

    _class = PaiKerasCallback
    return _class


def _numbers(logs: dict[str, Any] | None) -> dict[str, float]:
    values = {}
    for key, value in (logs or {}).items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


_CALLBACKS_POSITION = 5  # fit(x, y, batch_size, epochs, verbose, callbacks, ...)


def patch_fit(keras: types.ModuleType) -> None:
    model = keras.Model
    if getattr(model.fit, "_pai_autolog", False):
        return
    cls = callback_class(keras)
    original = model.fit

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > _CALLBACKS_POSITION:
            args = list(args)
            args[_CALLBACKS_POSITION] = _with_ours(args[_CALLBACKS_POSITION], cls)
        else:
            kwargs["callbacks"] = _with_ours(kwargs.get("callbacks"), cls)
        return original(self, *args, **kwargs)

    fit._pai_autolog = True  # type: ignore[attr-defined]
    model.fit = fit


def _with_ours(callbacks: Any, cls: type) -> list[Any]:
    listed = list(callbacks or [])
    if not any(isinstance(c, cls) for c in listed):
        listed.append(cls())
    return listed
