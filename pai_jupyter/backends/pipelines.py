"""The pipeline face of a backend (``Backend.pipelines``), as branch ``pipe`` adds it to ``base.py``.

Kept in its own module on this branch so the aliyun face (PAIFlow) has a contract to meet before
``pipe`` is merged; the signatures are ``pipe``'s ``base.PipelineBackend``, and once that is merged
this module is only that protocol's second name. JSON shapes: ``pipeline_json`` and ``run_json`` as
the local control plane's ``controlplane.pipelines`` routes document them. Rules as in ``base.py``:
each method says whether it changes remote state; reads never write; errors are one-line PaiErrors.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class PipelineBackend(Protocol):
    def register(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Writes: create or replace a pipeline from ``PipelineSpec.to_dict()``; refuses (one line,
        naming the alternative) what this backend cannot run."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Read: every pipeline."""
        ...

    def get(self, name: str, limit: int = 20) -> dict[str, Any]:
        """Read: ``{"pipeline", "runs"}`` (newest ``limit`` runs)."""
        ...

    def runs(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        """Read: the newest runs."""
        ...

    def run(self, name: str, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
        """Writes: start (queue) a run now."""
        ...

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Read: one run with its steps."""
        ...

    def pause(self, name: str) -> dict[str, Any]:
        """Writes: its triggers stop firing."""
        ...

    def resume(self, name: str) -> dict[str, Any]:
        """Writes: its triggers fire again, counting from now."""
        ...

    def delete(self, name: str) -> None:
        """Writes: stop its runs and forget it."""
        ...
