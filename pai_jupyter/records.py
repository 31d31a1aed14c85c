"""The shared vocabulary: job and service records, their states and event kinds.

Everything above (backends, control plane, client API, front ends) speaks in
these words; this module imports nothing of the package but the specs.
Records are plain dataclasses that serialise to JSON (``to_dict``/``from_dict``)
for the REST API, ``--json`` output and the sidebar. The specs they refer to
live in ``pai_jupyter.specs``.

Vocabulary:
- a *job* is one training run (DLC names its states; see ``JOB_STATES``);
- a *service* is what users name (``digits-svc``); it has one endpoint
  ``<gateway>/api/predict/<service>`` and one token;
- a *version* is one deployed model (1, 2, ...); each has its own instances,
  signature and traffic weight (percent, the weights of a service sum to 100);
- a *rollout* moves traffic from the serving version to a new one through the
  plan's steps, with gates checked at every step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from .specs.job import JobSpec
from .specs.service import ServiceSpec

if TYPE_CHECKING:  # pragma: no cover
    from .specs.service import RolloutPlan

# Service states, as EAS names them (a subset that both backends produce).
SVC_CREATING, SVC_RUNNING, SVC_UPDATING, SVC_SCALING = "Creating", "Running", "Updating", "Scaling"
SVC_STOPPED, SVC_FAILED, SVC_DELETING = "Stopped", "Failed", "Deleting"

# Version states.
VER_CREATING, VER_RUNNING, VER_FAILED, VER_STOPPED = "Creating", "Running", "Failed", "Stopped"

# Rollout states.
ROLLOUT_RUNNING, ROLLOUT_PAUSED, ROLLOUT_SUCCEEDED = "running", "paused", "succeeded"
ROLLOUT_FAILED, ROLLOUT_ABORTED = "failed", "aborted"
ROLLOUT_ACTIVE = frozenset({ROLLOUT_RUNNING, ROLLOUT_PAUSED})
ROLLOUT_ACTIONS = ("pause", "resume", "promote", "abort")

# Response header naming the version that served a request.
VERSION_HEADER = "X-PAI-Version"


@dataclass
class VersionRecord:
    version: int
    model_uri: str
    processor: str
    state: str
    weight: float  # percent of the service's traffic, 0..100
    signature: dict[str, Any]  # {"inputs": [{"name","dtype","shape"}], "outputs": [...]}
    created_at: float
    instances: int = 0  # running instances
    desired_instances: int = 0
    job_id: str | None = None  # the training job the model came from, when known
    provenance_uri: str | None = None  # provenance.json beside the model, when present
    reason: str | None = None


@dataclass
class RolloutStep:
    weight: float  # percent on the new version during this step
    started_at: float
    ended_at: float | None = None
    result: str | None = None  # passed | failed | promoted | aborted; None while baking
    figures: dict[str, Any] = field(default_factory=dict)  # gate inputs: p95, error rates, requests


@dataclass
class RolloutRecord:
    id: str
    service: str
    from_version: int
    to_version: int
    plan: list[float]  # e.g. [10, 50, 100]
    state: str  # running | paused | succeeded | failed | aborted
    step: int  # index into plan of the step now baking (or last reached)
    started_at: float
    updated_at: float
    reason: str | None = None  # why it failed / was aborted, with the figures
    gates: dict[str, Any] = field(default_factory=dict)  # bake_s, min_requests, max_p95_ms, ...
    steps: list[RolloutStep] = field(default_factory=list)

    @classmethod
    def begin(
        cls, id: str, service: str, from_version: int, to_version: int, plan: RolloutPlan, now: float
    ) -> RolloutRecord:
        """A rollout that starts now: running, at the plan's first step, with its gates."""
        first = plan.steps[0]
        return cls(
            id=id,
            service=service,
            from_version=from_version,
            to_version=to_version,
            plan=list(plan.steps),
            state=ROLLOUT_RUNNING,
            step=0,
            started_at=now,
            updated_at=now,
            gates=plan.gates(),
            steps=[RolloutStep(weight=first, started_at=now)],
        )

    @property
    def active(self) -> bool:
        return self.state in ROLLOUT_ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutRecord:
        data = dict(data)
        data["steps"] = [RolloutStep(**s) for s in data.get("steps", [])]
        return cls(**data)


@dataclass
class ServiceRecord:
    name: str
    state: str
    backend: str
    endpoint: str  # full URL of /api/predict/<name>
    spec: ServiceSpec  # as stored and shown: never the token
    versions: list[VersionRecord]
    created_at: float
    updated_at: float
    env: str = "dev"
    rollout: RolloutRecord | None = None  # the active or most recent rollout
    autoscaler: dict[str, Any] = field(default_factory=dict)  # AutoscalePolicy.to_dict()
    reason: str | None = None

    @property
    def weights(self) -> dict[int, float]:
        return {v.version: v.weight for v in self.versions if v.weight > 0}

    @property
    def serving_version(self) -> int | None:
        """The version with the most traffic (the stable one during a rollout)."""
        live = [v for v in self.versions if v.weight > 0]
        return max(live, key=lambda v: (v.weight, -v.version)).version if live else None

    def version(self, number: int) -> VersionRecord:
        for v in self.versions:
            if v.version == number:
                return v
        from .errors import NotFoundError

        raise NotFoundError(
            f"service {self.name!r} has no version {number}",
            f"versions: {', '.join(str(v.version) for v in self.versions) or 'none'}",
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        data["weights"] = {str(k): v for k, v in self.weights.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceRecord:
        data = {k: v for k, v in data.items() if k != "weights"}
        data["spec"] = ServiceSpec.from_dict(data["spec"])
        data["versions"] = [VersionRecord(**v) for v in data.get("versions", [])]
        if data.get("rollout"):
            data["rollout"] = RolloutRecord.from_dict(data["rollout"])
        return cls(**data)


@dataclass
class ServiceMetricPoint:
    """Per-version figures over one window ending at ``ts`` (the gateway's, or EAS's)."""

    ts: float
    version: int
    qps: float
    p50_ms: float | None
    p95_ms: float | None
    error_rate: float  # 0..1
    requests: int
    errors: int
    instances: int
    weight: float


@dataclass
class ServiceEvent:
    ts: float
    kind: str  # deploy | rollout | gate | revert | scale | instance | auth | config
    message: str
    version: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


# Job states, as DLC names them.
CREATING, QUEUING, RUNNING, RESTARTING = "Creating", "Queuing", "Running", "Restarting"


STOPPING, SUCCEEDED, FAILED, STOPPED = "Stopping", "Succeeded", "Failed", "Stopped"


TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, STOPPED})


JOB_STATES = (CREATING, QUEUING, RUNNING, RESTARTING, STOPPING, SUCCEEDED, FAILED, STOPPED)


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
        # Field by field, not asdict(): asdict would deep-copy the spec only to replace it, and
        # lists of jobs are serialised a page at a time.
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                value = [asdict(v) if is_dataclass(v) else v for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            data[f.name] = value
        data["spec"] = self.spec.to_dict()
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
class MetricRange:
    """Metric series over a range at a point budget: the points that keep each curve's shape
    (M4, ``decisions.downsample``), the exact summary figures of every series by name
    (``first``, ``last``, ``min``, ``max``, ``count``, ``first_step``, ``last_step``), and
    whether any point was left out."""

    points: list[MetricPoint]
    summary: dict[str, dict[str, Any]]
    downsampled: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": [asdict(p) for p in self.points],
            "summary": self.summary,
            "downsampled": self.downsampled,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricRange:
        return cls([MetricPoint(**m) for m in data["metrics"]], data["summary"], bool(data["downsampled"]))


@dataclass
class JobQuery:
    """A page of the job history: filters applied over every job, newest first.

    ``q`` matches a part of the name or id (case-insensitive); ``since``/``until`` bound
    ``created_at`` (epoch seconds); ``cursor`` is the ``next`` of the previous page (opaque),
    ``page`` (1-based) an alternative for people."""

    limit: int = 50
    cursor: str | None = None
    page: int | None = None
    q: str | None = None
    state: str | None = None
    backend: str | None = None
    framework: str | None = None
    experiment: str | None = None
    since: float | None = None
    until: float | None = None

    def params(self) -> dict[str, Any]:
        """The non-empty fields, as query parameters."""
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class JobPage:
    jobs: list[JobRecord]
    total: int  # jobs matching the filter over the whole history
    next: str | None  # cursor of the next page; None on the last
