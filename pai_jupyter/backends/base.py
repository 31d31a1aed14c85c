"""The Backend contract: three faces (storage, training, serving).

Both backends (the local control plane and Alibaba Cloud) implement every
method here; the client API (``pai_jupyter.api``) and everything above it
talk only to these protocols, and a shared test suite runs against both.
The records they return live in ``pai_jupyter.records``.

Rules every implementation keeps:

- Every method's docstring says whether it may change remote state. **Reads never
  write**: ``get``, ``list``, ``logs``, ``metrics``, ``events``, ``provenance`` and
  ``token`` only look. Work a backend must do on its own clock (advancing a rollout,
  resubmitting a reclaimed spot job, writing provenance when a job ends) is
  ``reconcile_job`` / ``reconcile_service``, which watchers (widgets, the sidebar's push
  loop, ``Job.wait``, ``Service.wait_rollout``) call on purpose every
  ``Backend.reconcile_interval`` seconds.
- Optional capabilities are declared here, not discovered: ``TrainingBackend.can_preempt``
  says whether ``preempt`` works; ``ServingBackend.version_endpoint`` exists on both.
- Errors are ``pai_jupyter.errors.PaiError`` subclasses with a one-line message and a
  hint; never a raw transport exception.
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
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
)
from ..specs.job import JobSpec
from ..storage.objects import ObjectInfo, ProgressCallback
from ..storage.uri import OssUri

if TYPE_CHECKING:  # pragma: no cover
    from ..specs.service import AutoscalePolicy, RolloutPlan, ServiceSpec


@runtime_checkable
class StorageBackend(Protocol):
    """Objects addressed by ``oss://bucket/key`` (OSS on aliyun, a directory tree locally)."""

    def exists(self, uri: OssUri) -> bool:
        """Read: whether an object (or, for a ``.../`` URI, any object below it) exists."""
        ...

    def list(self, uri: OssUri, recursive: bool = False) -> list[ObjectInfo]:
        """Read: the objects (and, unless ``recursive``, the folders) directly below ``uri``."""
        ...

    def read_bytes(self, uri: OssUri) -> bytes:
        """Read: one object's bytes; NotFoundError when it is missing."""
        ...

    def write_bytes(self, uri: OssUri, data: bytes) -> None:
        """Writes: creates or replaces one object."""
        ...

    def upload(self, local: Path, uri: OssUri, progress: ProgressCallback | None = None) -> OssUri:
        """Writes: copies a local file or folder to ``uri``; returns where it landed."""
        ...

    def download(self, uri: OssUri, local: Path, progress: ProgressCallback | None = None) -> Path:
        """Read (remote) / writes the local disk only: copies ``uri`` to ``local``."""
        ...

    def delete(self, uri: OssUri, recursive: bool = False) -> None:
        """Writes: removes one object, or everything below a folder when ``recursive``."""
        ...


@runtime_checkable
class TrainingBackend(Protocol):
    """Training jobs (PAI-DLC on aliyun, worker processes of the control plane locally)."""

    #: whether ``preempt`` can reclaim a job's instances on purpose (the local backend's drill).
    can_preempt: bool

    def submit(self, spec: JobSpec, code_uri: str, provenance: dict[str, Any]) -> JobRecord:
        """Writes: creates the job from ``spec`` with the code snapshot at ``code_uri``."""
        ...

    def get(self, job_id: str) -> JobRecord:
        """Read: the job as the backend knows it now; changes nothing."""
        ...

    def reconcile_job(self, job_id: str) -> JobRecord:
        """May write: do the job's pending work (resubmit a reclaimed spot job, record its
        attempts, write provenance once it succeeded), then return it as ``get`` would."""
        ...

    def list(self, limit: int = 100, state: str | None = None, name: str | None = None) -> list[JobRecord]:
        """Read: jobs, newest first, optionally filtered by state or by a part of the name."""
        ...

    def stop(self, job_id: str) -> JobRecord:
        """Writes: asks the job to stop (a stopped job is not resubmitted)."""
        ...

    def preempt(self, job_id: str) -> JobRecord:
        """Writes: reclaim the job's instances as a spot reclaim would; PaiError when
        ``can_preempt`` is false."""
        ...

    def logs(self, job_id: str, worker: int = 0, offset: int = 0, tail: int | None = None) -> LogChunk:
        """Read: one worker's log from ``offset`` (or its last ``tail`` lines)."""
        ...

    def metrics(
        self, job_id: str, since: float | None = None, names: list[str] | None = None
    ) -> list[MetricPoint]:
        """Read: reported and sampled metrics, optionally since a time or for some names."""
        ...

    def events(self, job_id: str) -> list[JobEvent]:
        """Read: the job's events (state changes, warnings, advice, attempts)."""
        ...

    def provenance(self, job_id: str) -> dict[str, Any]:
        """Read: the provenance recorded when the job was submitted (and completed)."""
        ...

    def add_provenance(self, job_id: str, fields: dict[str, Any]) -> None:
        """Writes: merge ``fields`` known only after submit (the job's code commit) into its provenance."""
        ...


@runtime_checkable
class ServingBackend(Protocol):
    """Endpoints (PAI-EAS on aliyun, the control plane's gateway locally)."""

    def deploy(
        self,
        spec: ServiceSpec,
        model_uri: str,
        plan: RolloutPlan | None = None,
        new_api_version: bool = False,
        job_id: str | None = None,
    ) -> ServiceRecord:
        """Writes: create the service (version 1 at 100 %) or add a version and start a rollout."""
        ...

    def get(self, name: str) -> ServiceRecord:
        """Read: the service, its versions, weights and latest rollout; changes nothing."""
        ...

    def reconcile_service(self, name: str, drive: bool = True) -> ServiceRecord:
        """May write: advance an active rollout by one controller step (judge its gates, move
        traffic), then return the service as ``get`` would. ``drive=False``: an observer, which
        only does what is overdue (aliyun: revert a rollout whose driver's lease ran out)."""
        ...

    def list(self) -> list[ServiceRecord]:
        """Read: every service."""
        ...

    def delete(self, name: str) -> None:
        """Writes: stop every version and forget the service."""
        ...

    def token(self, name: str) -> str:
        """Read: the service's access token."""
        ...

    def version_endpoint(self, name: str, version: int) -> str:
        """Read: the URL that reaches one version only (e.g. a new API version)."""
        ...

    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        """Writes: ``action`` is one of ROLLOUT_ACTIONS (pause, resume, promote, abort)."""
        ...

    def rollback(self, name: str, version: int) -> ServiceRecord:
        """Writes: put 100 % of traffic on ``version`` (any earlier, kept version)."""
        ...

    def set_autoscaler(self, name: str, policy: AutoscalePolicy) -> ServiceRecord:
        """Writes: the autoscaling policy of every version of the service."""
        ...

    def metrics(self, name: str, since: float | None = None) -> list[ServiceMetricPoint]:
        """Read: per-version figures over time."""
        ...

    def events(self, name: str, since: float | None = None) -> list[ServiceEvent]:
        """Read: deploys, rollout steps, gates, reverts, scaling."""
        ...


@runtime_checkable
class PipelineBackend(Protocol):
    """Pipelines (the local control plane's engine; on aliyun, PAIFlow). JSON shapes: the
    control plane's ``controlplane.pipelines.routes`` docstring (pipeline_json, run_json)."""

    def register(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Writes: create or replace a pipeline from ``PipelineSpec.to_dict()``."""
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


class Backend:
    """A named bundle of the three faces, chosen by ``PaiConfig.backend``.

    Subclasses set the class attributes (so the UI can list backends) and the
    ``storage`` / ``training`` / ``serving`` attributes in ``__init__`` (``serving``
    may be a property that builds the face on first use).
    """

    id: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: seconds between two ``reconcile_*`` calls of a watcher (widget, sidebar, ``wait``).
    reconcile_interval: float = 5.0

    storage: StorageBackend
    training: TrainingBackend
    serving: ServingBackend

    @property
    def pipelines(self) -> PipelineBackend:
        """The pipelines face; a backend without one says so in one line."""
        from ..errors import PaiError

        raise PaiError(
            f"the {self.id} backend runs no pipelines here",
            "use the local backend, or compile the pipeline for PAIFlow on aliyun",
        )

    def close(self) -> None:  # pragma: no cover - default no-op
        """Release connections; the backend is not used afterwards."""

    def follow_logs(self, job_id: str, worker: int = 0, poll: float = 0.5) -> Iterator[str]:
        """Yield log text as it is written until the job ends (shared by CLI and widgets).

        A watcher: it reconciles the job every ``reconcile_interval`` seconds (a reclaimed spot
        job is resubmitted while someone follows it)."""
        import time

        offset = 0
        reconciled_at = float("-inf")
        while True:
            chunk = self.training.logs(job_id, worker=worker, offset=offset)
            if chunk.text:
                yield chunk.text
            offset = chunk.next_offset
            if chunk.text:
                continue
            record = self.training.get(job_id)
            if record.is_terminal or time.monotonic() - reconciled_at >= self.reconcile_interval:
                reconciled_at = time.monotonic()
                record = self.training.reconcile_job(job_id)  # also settles a job that just ended
            if record.is_terminal:
                final = self.training.logs(job_id, worker=worker, offset=offset)
                if final.text:
                    yield final.text
                return
            time.sleep(poll)
