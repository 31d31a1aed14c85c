"""Autologging: framework metrics reach ``report()`` with no change to the training code.

Inside a job (``--autolog``, the default) the worker's ``PYTHONPATH`` starts with
``autolog/site``, whose ``sitecustomize`` calls ``install()``. That puts an import hook on
``sys.meta_path`` which, the moment the script imports a framework, adds our callback to it:

- Hugging Face ``transformers``: ``PaiTrainerCallback`` joins ``transformers.trainer.DEFAULT_CALLBACKS``,
  the callbacks every ``Trainer`` starts with (transformers/trainer.py);
- PyTorch Lightning (``lightning.pytorch`` or ``pytorch_lightning``): a ``PaiLightningLogger``
  joins every ``Trainer``'s ``loggers`` (unless ``logger=False``);
- Keras 3: ``keras.Model.fit`` gets a ``PaiKerasCallback`` in its ``callbacks``.

Nothing is imported before the script imports the framework, and a hook that fails prints one
line on stderr and leaves the training alone. ``--no-autolog`` (``JobSpec.autolog``) leaves the
path out. Outside a job the callbacks can be used by hand: ``Trainer(callbacks=[PaiTrainerCallback])``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).resolve().parent / "site"
ENV_FLAG = "PAI_AUTOLOG"  # "0" turns the hook off even when the path is set


def _patch_transformers(module: types.ModuleType) -> None:
    from .hf import PaiTrainerCallback

    defaults = module.DEFAULT_CALLBACKS  # type: ignore[attr-defined]
    if PaiTrainerCallback not in defaults:
        defaults.append(PaiTrainerCallback)


def _patch_lightning(module: types.ModuleType) -> None:
    from .lightning import patch_trainer

    patch_trainer(module)


def _patch_keras(module: types.ModuleType) -> None:
    from .keras import patch_fit

    patch_fit(module)


# module that defines what we patch -> the patch, run right after that module is executed
HOOKS: dict[str, Callable[[types.ModuleType], None]] = {
    "transformers.trainer": _patch_transformers,
    "lightning.pytorch": _patch_lightning,
    "pytorch_lightning": _patch_lightning,
    "keras": _patch_keras,
}
_done: set[str] = set()


def _run_hook(name: str, module: types.ModuleType) -> None:
    if name in _done:
        return
    _done.add(name)
    try:
        HOOKS[name](module)
    except Exception as exc:  # never break the user's training for a metric hook
        print(f"pai-jupyter autolog: not logging {name} metrics: {exc!r}", file=sys.stderr)


class _Loader(importlib.abc.Loader):
    """The framework's own loader, then the patch."""

    def __init__(self, name: str, loader: importlib.abc.Loader) -> None:
        self._name, self._loader = name, loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__.loader = self._loader  # what reloads and inspect see afterwards
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        _run_hook(self._name, module)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it wraps the loader of the modules in ``HOOKS``."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOOKS or fullname in self._busy or fullname in _done:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except (ImportError, ValueError):
            return None
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(fullname, spec.loader)
        return spec


_finder: _Finder | None = None


def install() -> bool:
    """Hook the frameworks (those already imported are patched now); False when turned off."""
    global _finder
    if os.environ.get(ENV_FLAG, "1") == "0":
        return False
    if _finder is None:
        _finder = _Finder()
        sys.meta_path.insert(0, _finder)
    for name in HOOKS:
        if name in sys.modules:
            _run_hook(name, sys.modules[name])
    return True


def uninstall() -> None:
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None


def worker_pythonpath(existing: str | None) -> str:
    """``PYTHONPATH`` for a job's worker with autologging on: our ``sitecustomize`` first."""
    return os.pathsep.join(p for p in (str(SITE_DIR), existing or "") if p)
