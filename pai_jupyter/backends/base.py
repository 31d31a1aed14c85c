"""The Backend contract: three faces (storage, training, serving).

Both backends (the local control plane and Alibaba Cloud) implement every
method here; the client API (``pai_jupyter.client``) and everything above it
talk only to these protocols, and a shared test suite runs against both.
Records are plain dataclasses that serialise to JSON for the REST API, the CLI's
``--json`` and the sidebar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..specs.job import JobSpec
from ..storage.uri import OssUri

# Job states, as DLC names them.
CREATING, QUEUING, RUNNING, RESTARTING = "Creating", "Queuing", "Running", "Restarting"
STOPPING, SUCCEEDED, FAILED, STOPPED = "Stopping", "Succeeded", "Failed", "Stopped"
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, STOPPED})
JOB_STATES = (CREATING, QUEUING, RUNNING, RESTARTING, STOPPING, SUCCEEDED, FAILED, STOPPED)

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass
class WorkerRecord:
    rank: int
    state: str
    pid: int | None = None
    exit_code: int | None = None
    host: str = "127.0.0.1"


@dataclass
class JobRecord:
    id: str
    name: str
    state: str
    spec: JobSpec
    backend: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None
    attempt: int = 1
    workers: list[WorkerRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    code_uri: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    def public_dict(self) -> dict[str, Any]:
        """``to_dict`` for people (``--json``, the REST API, the sidebar): ``--env`` values whose
        name says secret (``MY_PASSWORD``) or that look like one are redacted, as in provenance."""
        from ..provenance.redact import redact

        data = self.to_dict()
        data["spec"]["env"] = redact(data["spec"].get("env") or {})
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        data = dict(data)
        data["spec"] = JobSpec.from_dict(data["spec"])
        data["workers"] = [WorkerRecord(**w) for w in data.get("workers", [])]
        return cls(**data)


@dataclass
class MetricPoint:
    """One reported value. ``source`` is ``report`` (the script) or ``system``."""

    name: str
    value: float
    ts: float
    step: int | None = None
    worker: int = 0
    source: str = "report"


@dataclass
class JobEvent:
    ts: float
    kind: str  # state | info | warning | advice | preemption | restart
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogChunk:
    """Log text from ``offset``; pass ``next_offset`` back to follow."""

    text: str
    next_offset: int
    worker: int = 0


@dataclass
class ObjectInfo:
    uri: str
    size: int
    modified: float
    is_dir: bool = False
    etag: str | None = None  # OSS's ETag (content MD5 for simple uploads); None where storage has none


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
    def add_provenance(self, job_id: str, fields: dict[str, Any]) -> None:
        """Merge ``fields`` known only after submit (the job's code commit) into its provenance."""
        ...


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
