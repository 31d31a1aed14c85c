"""``PipelineSpec``: preprocess -> train -> eval (gate) -> deploy as one validated DAG.

A pipeline is a list of steps and the triggers that start it. Steps pass
artefacts by reference, ``"<step>.<artefact>"``:

- ``preprocess`` / ``train`` / ``eval`` steps are training jobs (a ``JobSpec`` built from
  the same options as ``%%pai_train``, plus the entry script's text); each gives
  ``<step>.output`` (the job's output folder; ``<step>.model`` is the same folder, the
  name a train step's reader expects);
- an ``eval`` step runs its script on a held-out set and gives ``<step>.metrics`` (what
  the script reported through ``report()``, or wrote to ``metrics_file`` in its output
  folder); its ``gate`` is an expression over those metrics and the serving version's
  recorded ones (``pai_jupyter.specs.gate``);
- a ``deploy`` step rolls ``inputs["model"]`` out to ``service`` with ``%pai_deploy``'s
  options (a ``DeployOptions``), by the usual gated blue-green rollout.

Triggers: ``CronTrigger`` (a 5-field cron schedule, UTC) and ``OssTrigger`` (new or
changed objects under an ``oss://bucket/prefix``, debounced). ``allow_overlap``: whether
a run may start while another of the same pipeline is running.

Everything round-trips through JSON (``to_dict`` / ``from_dict``); ``validate`` refuses
cycles, references to steps or artefacts that do not exist and unknown fields, each
with one line. The local control plane runs it (``pai_jupyter.controlplane.pipelines``);
on aliyun it is compiled to PAIFlow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ValidationError
from ..storage.uri import OssUri
from ._checks import _is_number, _known
from .gate import parse_gate
from .job import JobSpec
from .rollout import RolloutPlan

STEP_KINDS = ("preprocess", "train", "eval", "deploy")
JOB_KINDS = ("preprocess", "train", "eval")
# What each kind of step gives to the steps after it ("<step>.<artefact>").
ARTEFACTS: dict[str, tuple[str, ...]] = {
    "preprocess": ("output",),
    "train": ("model", "output"),
    "eval": ("metrics", "output"),
    "deploy": ("service",),
}
DEFAULT_METRICS_FILE = "metrics.json"
DEFAULT_DEBOUNCE_S = 30.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_REF = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,62})\.([a-z]+)$")


@dataclass(frozen=True)
class ArtefactRef:
    """``train.model``: the artefact ``artefact`` of step ``step``."""

    step: str
    artefact: str

    @classmethod
    def parse(cls, text: str) -> ArtefactRef | None:
        """The reference in ``text``, or None when it is a URI (``oss://...``) or anything else."""
        m = _REF.match(str(text))
        return cls(m.group(1), m.group(2)) if m else None

    def __str__(self) -> str:
        return f"{self.step}.{self.artefact}"


@dataclass(frozen=True)
class DeployOptions:
    """``%pai_deploy``'s options for a deploy step (``options``: ServiceSpec fields, JSON form)."""

    processor: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    plan: RolloutPlan | None = None
    new_api_version: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "processor": self.processor,
            "options": dict(self.options),
            "plan": self.plan.to_dict() if self.plan else None,
            "new_api_version": self.new_api_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployOptions:
        data = _known(cls, data, "deploy options")
        if isinstance(data.get("plan"), dict):
            data["plan"] = RolloutPlan.from_dict(data["plan"])
        return cls(**data)


@dataclass(frozen=True)
class StepSpec:
    name: str
    kind: str
    job: JobSpec | None = None  # preprocess / train / eval
    source: str | None = None  # the job's entry script (the cell, or a script file's text)
    inputs: dict[str, str] = field(default_factory=dict)  # channel -> "step.artefact" or oss:// URI
    gate: str | None = None  # eval
    service: str | None = None  # deploy: the service; eval: whose serving version the gate reads
    deploy: DeployOptions | None = None  # deploy
    after: tuple[str, ...] = ()  # ordering without an artefact
    metrics_file: str = DEFAULT_METRICS_FILE  # eval: read from its output folder when present
    code_uri: str | None = None  # set when registered: where the entry script's code snapshot is

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", {str(k): str(v) for k, v in dict(self.inputs).items()})
        object.__setattr__(self, "after", tuple(str(a) for a in self.after))

    @property
    def is_job(self) -> bool:
        return self.kind in JOB_KINDS

    def references(self) -> list[tuple[str, ArtefactRef]]:
        """``[(channel, ref)]`` of the artefacts this step reads."""
        refs = []
        for channel, value in self.inputs.items():
            ref = ArtefactRef.parse(value)
            if ref is not None:
                refs.append((channel, ref))
        return refs

    def dependencies(self) -> tuple[str, ...]:
        """The steps that must finish before this one (artefacts read, then ``after``)."""
        names = [ref.step for _, ref in self.references()] + list(self.after)
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "job": self.job.to_dict() if self.job else None,
            "source": self.source,
            "inputs": dict(self.inputs),
            "gate": self.gate,
            "service": self.service,
            "deploy": self.deploy.to_dict() if self.deploy else None,
            "after": list(self.after),
            "metrics_file": self.metrics_file,
            "code_uri": self.code_uri,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepSpec:
        data = _known(cls, data, "pipeline step")
        if isinstance(data.get("job"), dict):
            data["job"] = JobSpec.from_dict(data["job"])
        if isinstance(data.get("deploy"), dict):
            data["deploy"] = DeployOptions.from_dict(data["deploy"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValidationError(f"pipeline step is incomplete: {exc}") from None


@dataclass(frozen=True)
class CronTrigger:
    """Start a run on a 5-field cron schedule (UTC), e.g. ``0 3 * * *``; ``@hourly`` etc. too."""

    schedule: str
    type: str = "cron"

    def validate(self) -> None:
        from croniter import croniter

        if not isinstance(self.schedule, str) or not croniter.is_valid(self.schedule):
            raise ValidationError(
                f"the schedule {self.schedule!r} is not a cron expression",
                "write it like '0 3 * * *' (minute hour day month weekday, UTC) or '*/15 * * * *'",
            )
        if len(self.schedule.split()) > 5:
            raise ValidationError(
                f"the schedule {self.schedule!r} has more than 5 fields", "seconds are not supported"
            )


@dataclass(frozen=True)
class OssTrigger:
    """Start a run when objects under ``prefix`` appear or change, ``debounce_s`` after the last change."""

    prefix: str
    debounce_s: float = DEFAULT_DEBOUNCE_S
    type: str = "oss"

    def validate(self) -> None:
        OssUri.parse(self.prefix)  # one line when it is not oss://bucket/prefix
        if not _is_number(self.debounce_s) or not 0 <= self.debounce_s <= 86400:
            raise ValidationError(
                f"debounce {self.debounce_s!r} is not between 0 and 86400 seconds", "write it like 30"
            )


Trigger = CronTrigger | OssTrigger
_TRIGGERS: dict[str, type[CronTrigger] | type[OssTrigger]] = {"cron": CronTrigger, "oss": OssTrigger}


def trigger_from_dict(data: dict[str, Any]) -> Trigger:
    if not isinstance(data, dict) or data.get("type") not in _TRIGGERS:
        raise ValidationError(
            f"pipeline trigger {data!r} has no known type", "a trigger is {'type': 'cron' | 'oss', ...}"
        )
    kind = _TRIGGERS[data["type"]]
    try:
        return kind(**_known(kind, data, f"{data['type']} trigger"))
    except TypeError as exc:
        raise ValidationError(f"{data['type']} trigger is incomplete: {exc}") from None


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    steps: tuple[StepSpec, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    allow_overlap: bool = False
    # Where the definition came from, as for a job: code_commit, code_ref, environment, ...
    provenance: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "triggers", tuple(self.triggers))

    # -- lookups -------------------------------------------------------------------
    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise ValidationError(
            f"pipeline {self.name} has no step {name!r}", f"its steps: {', '.join(s.name for s in self.steps)}"
        )

    def order(self) -> list[StepSpec]:
        """The steps in an order that runs every step after the ones it depends on (stable)."""
        return [self.step(n) for n in _topological(self)]

    def downstream(self, name: str) -> set[str]:
        """Every step that (transitively) depends on ``name``."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for step in self.steps:
                if current in step.dependencies() and step.name not in found:
                    found.add(step.name)
                    frontier.append(step.name)
        return found

    def compare_service(self, step: StepSpec) -> str | None:
        """The service whose serving version an eval step's gate reads: its own ``service``, else
        the one deploy step after it."""
        if step.service:
            return step.service
        later = self.downstream(step.name)
        services = sorted({s.service for s in self.steps if s.kind == "deploy" and s.name in later and s.service})
        return services[0] if len(services) == 1 else None

    # -- validation -------------------------------------------------------------------
    def validate(self) -> PipelineSpec:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValidationError(
                f"pipeline name {self.name!r} is not valid",
                "use letters, digits, '-' and '_', starting with a letter (at most 63)",
            )
        if not self.steps:
            raise ValidationError(f"pipeline {self.name} has no steps", "add one, e.g. p.train(...)")
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValidationError(
                    f"pipeline {self.name} has two steps named {step.name!r}", "give each step its own name="
                )
            seen.add(step.name)
        _check_gates_guard_deploys(self)  # first: a misplaced deploy also leaves the gate no service
        for step in self.steps:
            _check_step(self, step)
        _topological(self)  # cycles
        for trigger in self.triggers:
            if not isinstance(trigger, (CronTrigger, OssTrigger)):
                raise ValidationError(f"pipeline {self.name}: {trigger!r} is not a trigger")
            trigger.validate()
        if not isinstance(self.allow_overlap, bool):
            raise ValidationError("allow_overlap must be true or false")
        return self

    def with_changes(self, **changes: Any) -> PipelineSpec:
        return replace(self, **changes)

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [s.to_dict() for s in self.steps],
            "triggers": [_trigger_dict(t) for t in self.triggers],
            "allow_overlap": self.allow_overlap,
            "provenance": dict(self.provenance),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        data = _known(cls, data, "pipeline")
        if not isinstance(data.get("steps", []), list) or not isinstance(data.get("triggers", []), list):
            raise ValidationError("a pipeline's steps and triggers must be lists")
        data["steps"] = tuple(StepSpec.from_dict(s) for s in data.get("steps", []))
        data["triggers"] = tuple(trigger_from_dict(t) for t in data.get("triggers", []))
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValidationError(f"pipeline is incomplete: {exc}") from None


def _trigger_dict(trigger: Trigger) -> dict[str, Any]:
    if isinstance(trigger, CronTrigger):
        return {"type": "cron", "schedule": trigger.schedule}
    return {"type": "oss", "prefix": trigger.prefix, "debounce_s": trigger.debounce_s}


def _check_step(spec: PipelineSpec, step: StepSpec) -> None:
    where = f"pipeline {spec.name}, step {step.name!r}"
    if not isinstance(step.name, str) or not _NAME.match(step.name):
        raise ValidationError(
            f"step name {step.name!r} is not valid", "use letters, digits, '-' and '_', starting with a letter"
        )
    if step.kind not in STEP_KINDS:
        raise ValidationError(f"{where}: kind {step.kind!r} is not one of {', '.join(STEP_KINDS)}")
    if step.is_job:
        if step.job is None:
            raise ValidationError(f"{where}: a {step.kind} step needs its job's options")
        if not step.source or not step.source.strip():
            raise ValidationError(f"{where}: the {step.kind} step has no script", "give its code or a script file")
        step.job.validate()
        taken = {i.channel for i in step.job.inputs}
        for channel in step.inputs:
            if not _CHANNEL.match(channel):
                raise ValidationError(
                    f"{where}: input channel {channel!r} is not valid", "use letters, digits and '_'"
                )
            if channel in taken:
                raise ValidationError(f"{where}: channel {channel!r} is given twice (as --data and as an input)")
    else:
        if step.job is not None or step.source:
            raise ValidationError(f"{where}: a deploy step runs no script", "drop its job options and code")
        if not step.service:
            raise ValidationError(f"{where}: the deploy step names no service", "give service='my-svc'")
        if "model" not in step.inputs:
            raise ValidationError(f"{where}: the deploy step has no model", "give model='train.model'")
        if set(step.inputs) != {"model"}:
            raise ValidationError(f"{where}: a deploy step takes only a model input, not {sorted(step.inputs)}")
        if step.deploy is None or not step.deploy.processor:
            raise ValidationError(
                f"{where}: the deploy step names no processor (the model does not exist yet to look at)",
                "give processor='onnx' (or torchscript, sklearn, xgboost, tensorflow, custom)",
            )
        from .service import ServiceSpec  # the deploy options are a service's settings: checked as one

        ServiceSpec.from_dict(
            {**step.deploy.options, "name": step.service, "processor": step.deploy.processor}
        ).validate()
        if step.deploy.plan is not None:
            step.deploy.plan.validate()
    if step.gate is not None:
        if step.kind != "eval":
            raise ValidationError(f"{where}: only an eval step has a gate")
        gate = parse_gate(step.gate)
        if gate.serving_names and spec.compare_service(step) is None:
            raise ValidationError(
                f"{where}: the gate reads serving.{gate.serving_names[0]} but says no service to compare with",
                "add one deploy step after it, or give the eval step service='my-svc'",
            )
    for channel, value in step.inputs.items():
        ref = ArtefactRef.parse(value)
        if ref is None:
            if not value.startswith("oss://"):
                raise ValidationError(
                    f"{where}: input {channel}={value!r} is neither a step's artefact nor an oss:// URI",
                    "write it like train.model, preprocess.output or oss://bucket/data/",
                )
            OssUri.parse(value)
            continue
        if ref.step == step.name:
            raise ValidationError(f"{where}: input {channel}={value} reads the step's own artefact")
        other = next((s for s in spec.steps if s.name == ref.step), None)
        if other is None:
            raise ValidationError(
                f"{where}: input {channel}={value} names no step {ref.step!r}",
                f"the steps are {', '.join(s.name for s in spec.steps)}",
            )
        if other.kind not in STEP_KINDS:
            continue  # reported on that step
        if ref.artefact not in ARTEFACTS[other.kind]:
            raise ValidationError(
                f"{where}: input {channel}={value}: the {other.kind} step {other.name!r} gives "
                f"{', '.join(ARTEFACTS[other.kind])}, not {ref.artefact}"
            )
        if ref.artefact == "metrics" or ref.artefact == "service":
            raise ValidationError(
                f"{where}: input {channel}={value} is not a folder a step can read",
                "read a step's output or model; an eval step's metrics feed its gate",
            )
    for name in step.after:
        if name not in {s.name for s in spec.steps}:
            raise ValidationError(f"{where}: after={name!r} names no step")
    if not isinstance(step.metrics_file, str) or not step.metrics_file or "/" in step.metrics_file.strip("/"):
        raise ValidationError(f"{where}: metrics_file must be a file name like metrics.json")


def _check_gates_guard_deploys(spec: PipelineSpec) -> None:
    """A deploy of the model a gated eval step judges must wait for that gate."""
    for judge in spec.steps:
        if judge.kind != "eval" or judge.gate is None or "model" not in judge.inputs:
            continue
        later = spec.downstream(judge.name)
        for deploy in spec.steps:
            same_model = deploy.kind == "deploy" and deploy.inputs.get("model") == judge.inputs["model"]
            if same_model and deploy.name not in later:
                raise ValidationError(
                    f"pipeline {spec.name}: step {deploy.name!r} deploys {judge.inputs['model']} without "
                    f"waiting for the gate of {judge.name!r}",
                    f"add after=[{judge.name!r}] to the deploy step",
                )


def _topological(spec: PipelineSpec) -> list[str]:
    """Kahn's algorithm in definition order; ValidationError naming a cycle when there is one."""
    names = [s.name for s in spec.steps]
    deps = {s.name: [d for d in s.dependencies() if d in names] for s in spec.steps}
    done: list[str] = []
    remaining = list(names)
    while remaining:
        ready = [n for n in remaining if all(d in done for d in deps[n])]
        if not ready:
            raise ValidationError(
                f"pipeline {spec.name}: the steps form a cycle: {_cycle(deps, remaining)}",
                "a step can only read artefacts of steps before it",
            )
        done.append(ready[0])
        remaining.remove(ready[0])
    return done


def _cycle(deps: dict[str, list[str]], remaining: list[str]) -> str:
    path = [remaining[0]]
    while True:
        nxt = next(d for d in deps[path[-1]] if d in remaining)
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            return " -> ".join(reversed(cycle))
        path.append(nxt)


__all__ = [
    "ARTEFACTS",
    "JOB_KINDS",
    "STEP_KINDS",
    "ArtefactRef",
    "CronTrigger",
    "DeployOptions",
    "OssTrigger",
    "PipelineSpec",
    "StepSpec",
    "Trigger",
    "trigger_from_dict",
]
