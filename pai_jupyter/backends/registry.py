"""Backends by name, through the ``pai_jupyter.backends`` entry point group."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points

from ..config import PaiConfig
from ..errors import ValidationError
from .base import Backend

# Used when the package runs from a source tree without installed metadata.
_BUILTIN = {
    "local": "pai_jupyter.backends.local:LocalBackend",
    "aliyun": "pai_jupyter.backends.aliyun:AliyunBackend",
}
_cache: dict[tuple, Backend] = {}
# The server extension builds backends from several threads (its executor, its rollout driver):
# one builds, the others wait and get the same object.
_building = threading.RLock()


def available_backends() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group="pai_jupyter.backends")}
    return {**_BUILTIN, **found}


def _load(name: str) -> type[Backend]:
    target = available_backends().get(name)
    if target is None:
        raise ValidationError(
            f"backend {name!r} is unknown", f"choose one of {', '.join(sorted(available_backends()))}"
        )
    module_name, _, attr = target.partition(":")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValidationError(
            f"backend {name!r} needs packages that are not installed ({exc.name})",
            f"pip install 'pai-jupyter[{name}]'",
        ) from None
    return getattr(module, attr)


def get_backend(name: str | None = None, config: PaiConfig | None = None) -> Backend:
    """The backend for ``name`` (default: the configured one), built once per settings."""
    config = config or PaiConfig()
    name = name or config.backend
    key = _key(name, config)
    backend = _cache.get(key)
    if backend is not None:
        return backend
    with _building:
        backend = _cache.get(key)
        if backend is None:
            backend = _cache[key] = _load(name)(config)
            # A backend may fill a setting in while it is built (aliyun inside DSW: the workspace's
            # bucket); the settings as they are now name the same backend, not a second one.
            _cache.setdefault(_key(name, config), backend)
    return backend


def _key(name: str, config: PaiConfig) -> tuple[str, ...]:
    return (name, *(str(config.trait_values()[k]) for k in sorted(config.trait_names(config=True))))


def reset_backends() -> None:
    """Forget built backends (tests, or after the configuration changed)."""
    for backend in {id(b): b for b in _cache.values()}.values():
        backend.close()
    _cache.clear()
