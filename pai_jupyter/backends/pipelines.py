"""The pipeline face of a backend (``Backend.pipelines``): register a ``PipelineSpec``, run it, read its runs.

A minimal contract, added next to ``base.py`` so the aliyun backend's PAIFlow face and the local
control plane's orchestration can meet on it. Rules as in ``base.py``: each method says whether it
changes remote state; reads never write; errors are one-line ``PaiError``s.

A run is a plain dict: ``id``, ``pipeline``, ``state`` (one of ``records.JOB_STATES``), ``status``
(the backend's own word, e.g. PAIFlow's ``Running``), ``created_at``, ``started_at``,
``finished_at`` (epoch seconds or None), ``message``, ``steps`` ({step: state}, when known).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..specs.pipeline import PipelineSpec


@runtime_checkable
class PipelineBackend(Protocol):
    def register(self, spec: PipelineSpec) -> dict[str, Any]:
        """Writes: validates ``spec``, refuses (ValidationError, one line naming the alternative) what
        this backend cannot run, and creates or updates the pipeline; returns its registration."""
        ...

    def run(self, name: str) -> dict[str, Any]:
        """Writes: starts one run of the registered pipeline ``name`` now; returns the run."""
        ...

    def runs(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """Read: the pipeline's runs, newest first."""
        ...

    def get_run(self, name: str, run_id: str) -> dict[str, Any]:
        """Read: one run of the pipeline."""
        ...

    def delete(self, name: str) -> None:
        """Writes: removes the registered pipeline (its past runs stay where the backend keeps them)."""
        ...
