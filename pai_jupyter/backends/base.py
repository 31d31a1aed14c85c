"""The Backend contract: three faces (storage, training, serving).

Both backends (the local control plane and Alibaba Cloud) implement every
method here; the client API (``pai_jupyter.api.jobs``) and everything above it
talk only to these protocols, and a shared test suite runs against both.
Records are plain dataclasses that serialise to JSON for the REST API, the CLI's
``--json`` and the sidebar.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ..records import (
    JobEvent,
    JobRecord,
    LogChunk,
    MetricPoint,
    ObjectInfo,
    ProgressCallback,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
)
from ..specs.job import JobSpec
from ..storage.uri import OssUri

if TYPE_CHECKING:  # pragma: no cover
    from ..specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec


@runtime_checkable
class StorageBackend(Protocol):
    def exists(self, uri: OssUri) -> bool: ...
    def list(self, uri: OssUri, recursive: bool = False) -> list[ObjectInfo]: ...
    def read_bytes(self, uri: OssUri) -> bytes: ...
    def write_bytes(self, uri: OssUri, data: bytes) -> None: ...
    def upload(self, local: Path, uri: OssUri, progress: ProgressCallback | None = None) -> OssUri: ...
    def download(self, uri: OssUri, local: Path, progress: ProgressCallback | None = None) -> Path: ...
    def delete(self, uri: OssUri, recursive: bool = False) -> None: ...


@runtime_checkable
class TrainingBackend(Protocol):
    def submit(self, spec: JobSpec, code_uri: str, provenance: dict[str, Any]) -> JobRecord: ...
    def get(self, job_id: str) -> JobRecord: ...
    def list(self, limit: int = 100, state: str | None = None, name: str | None = None) -> list[JobRecord]: ...
    def stop(self, job_id: str) -> JobRecord: ...
    def logs(self, job_id: str, worker: int = 0, offset: int = 0, tail: int | None = None) -> LogChunk: ...
    def metrics(
        self, job_id: str, since: float | None = None, names: list[str] | None = None
    ) -> list[MetricPoint]: ...
    def events(self, job_id: str) -> list[JobEvent]: ...
    def provenance(self, job_id: str) -> dict[str, Any]: ...


class Backend:
    """A named bundle of the three faces, chosen by ``PaiConfig.backend``.

    Subclasses set the class attributes (so the UI can list backends) and the
    ``storage`` / ``training`` / ``serving`` attributes in ``__init__``.
    """

    id: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    storage: StorageBackend
    training: TrainingBackend
    serving: Any  # ServingBackend, defined with the serving face

    def close(self) -> None:  # pragma: no cover - default no-op
        """Release connections; the backend is not used afterwards."""

    def follow_logs(self, job_id: str, worker: int = 0, poll: float = 0.5) -> Iterator[str]:
        """Yield log text as it is written until the job ends (shared by CLI and widgets)."""
        import time

        offset = 0
        while True:
            chunk = self.training.logs(job_id, worker=worker, offset=offset)
            if chunk.text:
                yield chunk.text
            offset = chunk.next_offset
            if not chunk.text and self.training.get(job_id).is_terminal:
                final = self.training.logs(job_id, worker=worker, offset=offset)
                if final.text:
                    yield final.text
                return
            if not chunk.text:
                time.sleep(poll)


@runtime_checkable
class ServingBackend(Protocol):
    """What the client API (``pai_jupyter.api.services``) needs from a backend.

    Every method raises ``pai_jupyter.errors.PaiError`` subclasses with a
    one-line message and a hint; never a raw transport exception.
    """

    def deploy(
        self,
        spec: ServiceSpec,
        model_uri: str,
        plan: RolloutPlan | None = None,
        new_api_version: bool = False,
        job_id: str | None = None,
    ) -> ServiceRecord:
        """Create the service (version 1 at 100 %) or add a version and start a rollout."""
        ...

    def get(self, name: str) -> ServiceRecord: ...
    def list(self) -> list[ServiceRecord]: ...
    def delete(self, name: str) -> None: ...
    def token(self, name: str) -> str: ...
    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        """``action`` is one of ROLLOUT_ACTIONS."""
        ...

    def rollback(self, name: str, version: int) -> ServiceRecord:
        """Put 100 % of traffic on ``version`` (any earlier, kept version)."""
        ...

    def set_autoscaler(self, name: str, policy: AutoscalePolicy) -> ServiceRecord: ...
    def metrics(self, name: str, since: float | None = None) -> list[ServiceMetricPoint]: ...
    def events(self, name: str, since: float | None = None) -> list[ServiceEvent]: ...
