"""Backends: chosen by name (``PaiConfig.backend``) through the
``pai_jupyter.backends`` entry point group, so adding one touches no core file."""

from ..records import JobRecord
from .base import Backend, StorageBackend, TrainingBackend
from .registry import available_backends, get_backend

__all__ = ["Backend", "JobRecord", "StorageBackend", "TrainingBackend", "available_backends", "get_backend"]
