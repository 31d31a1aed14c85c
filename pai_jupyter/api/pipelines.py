"""The client API for pipelines: define in the notebook, register, run, watch.

::

    from pai_jupyter import Pipeline

    p = (
        Pipeline("digits-retrain")
        .preprocess("prep.py", data={"raw": "oss://bucket/incoming/"})
        .train("train.py", inputs={"data": "preprocess.output"}, framework="python")
        .eval("eval.py", model="train.model", data={"heldout": "oss://bucket/heldout/"},
              gate="accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50")
        .deploy("digits", model="train.model", processor="sklearn", plan="10,50,100")
        .schedule("0 3 * * *")
        .on_new_objects("oss://bucket/incoming/", debounce=60)
    )
    p.register()          # validated, code snapshots uploaded, provenance recorded
    run = p.run()         # a manual run; run.wait() blocks until it ends

Job steps take ``JobSpec``'s fields as keywords (the options of ``%%pai_train``:
``framework``, ``workers``, ``instance_type``, ``gpu_count``, ``env``, ``args``, ...;
``data`` is ``{channel: oss_uri}``); a deploy step takes ``%pai_deploy``'s
(``processor``, ``instances``, ``cpu``, ``env``, ``plan``, ``bake``, ``min_requests``,
...). Unknown options are refused at once, with the nearest known name.
"""

from __future__ import annotations

import difflib
import secrets
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..config import current_config
from ..errors import PaiError, ValidationError
from ..specs.job import DataInput, JobSpec
from ..specs.pipeline import (
    DEFAULT_DEBOUNCE_S,
    CronTrigger,
    DeployOptions,
    OssTrigger,
    PipelineSpec,
    StepSpec,
    Trigger,
)
from ..specs.rollout import RolloutPlan
from ..specs.service import PROCESSORS, ServiceSpec
from ..storage.uri import OssUri
from .common import BackendArg, resolve_backend

RUN_DONE = ("succeeded", "failed", "gated", "stopped")
_JOB_OPTIONS = sorted(f.name for f in fields(JobSpec) if f.name not in ("name", "inputs", "entry", "workdir"))
_PLAN_GATES = {
    "bake": "bake_s",
    "min_requests": "min_requests",
    "max_p95_ms": "max_p95_ms",
    "max_error_rate": "max_error_rate",
    "max_p95_ratio": "max_p95_ratio",
    "max_error_rate_delta": "max_error_rate_delta",
}
_SERVICE_OPTIONS = sorted(f.name for f in fields(ServiceSpec) if f.name not in ("name", "processor"))


class PipelineRun:
    """One run of a pipeline. ``state``: queued, running, succeeded, failed, gated, stopped."""

    def __init__(self, data: dict[str, Any], backend: Any) -> None:
        self.data = data
        self.backend = backend

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def state(self) -> str:
        return str(self.data["state"])

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.data["steps"]}

    @property
    def gate(self) -> dict[str, Any] | None:
        """The first gate decision of the run (its figures and reason), when one was decided."""
        return next((s["gate"] for s in self.data["steps"] if s.get("gate")), None)

    def refresh(self) -> PipelineRun:
        self.data = self.backend.pipelines.get_run(self.id)
        return self

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> PipelineRun:
        """Block until the run ends (any end: a gated run is an answer, not an error)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.refresh().state not in RUN_DONE:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"pipeline run {self.id} is still {self.state} after {timeout:g}s")
            time.sleep(poll)
        return self

    def __repr__(self) -> str:
        return f"<PipelineRun {self.id} #{self.data.get('number')} of {self.data.get('pipeline')} {self.state}>"


class Pipeline:
    """A pipeline being defined; every step method returns the pipeline, so calls chain."""

    def __init__(
        self,
        name: str,
        *,
        allow_overlap: bool = False,
        description: str = "",
        backend: BackendArg = None,
        cwd: Path | str | None = None,
    ) -> None:
        self.name = name
        self.allow_overlap = allow_overlap
        self.description = description
        self.steps: list[StepSpec] = []
        self.triggers: list[Trigger] = []
        self._backend = backend
        self.cwd = Path(cwd or Path.cwd())
        self.registered: dict[str, Any] | None = None

    # -- steps --------------------------------------------------------------------------------
    def preprocess(
        self, script: str | Path, *, name: str = "preprocess", inputs: dict[str, str] | None = None, **options: Any
    ) -> Pipeline:
        return self._job_step("preprocess", name, script, inputs, options)

    def train(
        self, script: str | Path, *, name: str = "train", inputs: dict[str, str] | None = None, **options: Any
    ) -> Pipeline:
        return self._job_step("train", name, script, inputs, options)

    def eval(
        self,
        script: str | Path,
        *,
        model: str | None = "train.model",
        gate: str | None = None,
        name: str = "eval",
        service: str | None = None,
        inputs: dict[str, str] | None = None,
        metrics_file: str = "metrics.json",
        **options: Any,
    ) -> Pipeline:
        """Run ``script`` on held-out data (``data={"heldout": "oss://..."}``) against ``model``
        (mounted as the ``model`` channel); it reports metrics with ``report()`` or writes
        ``metrics_file`` in its output folder. ``gate`` reads them and ``serving.<metric>``."""
        extra = dict(inputs or {})
        if model is not None:
            extra.setdefault("model", model)
        return self._job_step(
            "eval", name, script, extra, options, gate=gate, service=service, metrics_file=metrics_file
        )

    def deploy(
        self,
        service: str,
        *,
        model: str = "train.model",
        processor: str | None = None,
        name: str = "deploy",
        after: tuple[str, ...] | list[str] | None = None,
        plan: RolloutPlan | str | None = None,
        new_api_version: bool = False,
        **options: Any,
    ) -> Pipeline:
        """Roll ``model`` out to ``service`` (created when new) with ``%pai_deploy``'s options. Unless
        ``after`` says otherwise it runs after every eval step, so a failed gate stops it."""
        if processor is None:
            raise ValidationError(
                f"pipeline {self.name}, step {name!r}: a pipeline's deploy step needs processor= "
                "(the model does not exist yet to look at)",
                f"one of {', '.join(PROCESSORS)}",
            )
        gates = {_PLAN_GATES[k]: options.pop(k) for k in list(options) if k in _PLAN_GATES}
        _check_known(options, _SERVICE_OPTIONS, f"pipeline {self.name}, step {name!r}")
        from .services import build_spec

        spec = build_spec(service, processor, **options)
        if isinstance(plan, str):
            rollout: RolloutPlan | None = RolloutPlan.parse(plan, **gates)
        elif plan is None:
            rollout = RolloutPlan(**gates).validate() if gates else None
        else:
            rollout = plan.validate()
        data = spec.to_dict()
        data.pop("name")
        data.pop("processor")
        if after is None:
            after = tuple(s.name for s in self.steps if s.kind == "eval")
        self._add(
            StepSpec(
                name=name,
                kind="deploy",
                inputs={"model": model},
                service=service,
                after=tuple(after),
                deploy=DeployOptions(processor, data, rollout, new_api_version),
            )
        )
        return self

    def _job_step(
        self,
        kind: str,
        name: str,
        script: str | Path,
        inputs: dict[str, str] | None,
        options: dict[str, Any],
        **step: Any,
    ) -> Pipeline:
        where = f"pipeline {self.name}, step {name!r}"
        after = tuple(options.pop("after", ()) or ())
        data = options.pop("data", None) or {}
        _check_known(options, _JOB_OPTIONS, where)
        if isinstance(data, dict):
            channels = tuple(DataInput(str(uri), str(channel)) for channel, uri in data.items())
        else:
            channels = tuple(DataInput.parse(str(d)) for d in ([data] if isinstance(data, str) else data))
        if isinstance(options.get("args"), str):
            import shlex

            options["args"] = tuple(shlex.split(options["args"]))
        job = JobSpec(name=f"{self.name}-{name}", inputs=channels, **options)
        return self.add_job_step(kind, name, script, job, inputs, after, **step)

    def add_job_step(
        self,
        kind: str,
        name: str,
        script: str | Path,
        job: JobSpec,
        inputs: dict[str, str] | None = None,
        after: tuple[str, ...] = (),
        **step: Any,
    ) -> Pipeline:
        """A preprocess / train / eval step from a JobSpec built elsewhere (``%%pai_pipeline`` builds
        it from ``%%pai_train``'s options); ``script`` is the entry script's file."""
        source, entry = _read_script(script, name, self.cwd)
        job = job.with_changes(name=f"{self.name}-{name}", entry=entry)
        self._add(
            StepSpec(name=name, kind=kind, job=job, source=source, inputs=dict(inputs or {}), after=after, **step)
        )
        return self

    def add_step(self, step: StepSpec) -> Pipeline:
        """Add a step built elsewhere (the ``%%pai_pipeline`` magic builds them from option lines)."""
        self._add(step)
        return self

    def _add(self, step: StepSpec) -> None:
        if any(s.name == step.name for s in self.steps):
            raise ValidationError(
                f"pipeline {self.name} already has a step {step.name!r}", "give this one another name="
            )
        self.steps.append(step)
        self.registered = None

    # -- triggers -----------------------------------------------------------------------------
    def schedule(self, cron: str) -> Pipeline:
        """Run on a 5-field cron schedule, UTC (``"0 3 * * *"``: every day at 03:00)."""
        trigger = CronTrigger(cron)
        trigger.validate()
        self.triggers.append(trigger)
        self.registered = None
        return self

    def on_new_objects(self, prefix: str, debounce: float = DEFAULT_DEBOUNCE_S) -> Pipeline:
        """Run when objects under ``prefix`` are new or changed, ``debounce`` seconds after the last change."""
        trigger = OssTrigger(prefix, float(debounce))
        trigger.validate()
        self.triggers.append(trigger)
        self.registered = None
        return self

    # -- the definition -------------------------------------------------------------------------
    def spec(self) -> PipelineSpec:
        """The validated definition (without the code snapshots ``register`` adds)."""
        return PipelineSpec(
            self.name,
            steps=tuple(self.steps),
            triggers=tuple(self.triggers),
            allow_overlap=self.allow_overlap,
            description=self.description,
        ).validate()

    @property
    def backend(self) -> Any:
        return resolve_backend(self._backend)

    def register(self) -> dict[str, Any]:
        """Validate, upload each job step's code snapshot, record the provenance, store the definition."""
        spec = self.spec()
        be = self.backend
        face = be.pipelines  # a backend without pipelines says so before anything is uploaded
        spec = _with_code_and_provenance(spec, be, self.cwd)
        self.registered = face.register(spec.to_dict())
        return self.registered

    def run(self, wait: bool = False, timeout: float | None = None) -> PipelineRun:
        """Start a run now (registering the definition first when it changed since)."""
        if self.registered is None:
            self.register()
        be = self.backend
        run = PipelineRun(be.pipelines.run(self.name, {"kind": "manual"}), be)
        return run.wait(timeout) if wait else run

    def __repr__(self) -> str:
        arrows = " -> ".join(s.name for s in self.steps)
        return f"<Pipeline {self.name!r}: {arrows or 'no steps'}>"


def _check_known(options: dict[str, Any], known: list[str], where: str) -> None:
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise ValidationError(
                f"{where}: unknown option {key!r}",
                f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}",
            )


def _read_script(script: str | Path, step: str, cwd: Path) -> tuple[str, str]:
    """``(source, entry name)``: a file's text, or ``script`` itself when it is code."""
    text = str(script)
    path = Path(text) if Path(text).is_absolute() else cwd / text
    if "\n" not in text and text.endswith(".py"):
        if not path.is_file():
            raise ValidationError(f"step {step!r}: script {text} does not exist", f"looked in {path.parent}")
        return path.read_text(), path.name
    if "\n" in text or not text.strip().endswith(".py"):
        return text, f"{step}.py"
    raise ValidationError(f"step {step!r}: {text!r} is neither a script file nor code")  # pragma: no cover


def _with_code_and_provenance(spec: PipelineSpec, be: Any, cwd: Path) -> PipelineSpec:
    """Upload a code snapshot per job step and the definition's provenance; return the spec with both."""
    from jupyter_core.paths import jupyter_runtime_dir

    from ..provenance import capture, make_snapshot

    config = current_config()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = OssUri(config.bucket, f"pai-jupyter/pipelines/{spec.name}/definitions/{stamp}-{secrets.token_hex(3)}/")
    sources = "\n".join(s.source or "" for s in spec.steps)
    provenance = capture(
        cwd,
        entry_source=sources,
        entry_name=f"{spec.name}.pipeline",
        data_uris=[i.uri for s in spec.steps if s.job for i in s.job.inputs],
        spec=spec.to_dict(),
    )
    steps = []
    with tempfile.TemporaryDirectory(prefix="pai-pipeline-") as tmp:
        for step in spec.steps:
            if not step.is_job:
                steps.append(step)
                continue
            assert step.job is not None and step.source is not None
            folder = Path(tmp) / step.name
            snapshot = make_snapshot(
                cwd,
                step.source,
                step.job.entry,
                folder,
                private_dirs=(config.home_path, Path(jupyter_runtime_dir())),
            )
            code_uri = be.storage.upload(folder, base.join(f"code/{step.name}").as_dir())
            job = step.job.with_changes(workdir=snapshot.workdir)
            steps.append(StepSpec.from_dict({**step.to_dict(), "job": job.to_dict(), "code_uri": str(code_uri)}))
        code = _commit_ref(cwd, Path(tmp) / spec.steps[0].name, spec.name, be.id) if spec.steps[0].is_job else None
    provenance_uri = base.join("provenance.json")
    if code:
        provenance["code"] = code
    import json

    be.storage.write_bytes(provenance_uri, json.dumps(provenance, indent=2, default=str).encode())
    git = provenance.get("git") or {}
    environment = provenance.get("environment") or {}
    refs = {
        "uri": str(provenance_uri),
        "captured_at": provenance.get("captured_at"),
        "git_commit": git.get("commit"),
        "git_branch": git.get("branch"),
        "git_dirty": git.get("dirty"),
        "code_commit": (code or {}).get("commit"),
        "code_ref": (code or {}).get("ref"),
        "python": (environment.get("python") or {}).get("version"),
        "frameworks": environment.get("frameworks") or {},
        "warnings": provenance.get("warnings", []),
    }
    return spec.with_changes(steps=tuple(steps), provenance=refs)


def _commit_ref(cwd: Path, snapshot: Path, name: str, backend: str) -> dict[str, Any] | None:
    """The code the pipeline runs, committed on ``refs/pai/jobs/pipeline-<name>-<stamp>`` as for a job."""
    from ..provenance.refs import GitFailed, commit_job, snapshot_tree

    if not current_config().job_refs or not snapshot.is_dir():
        return None
    try:
        tree = snapshot_tree(cwd, snapshot)
        if tree is None:
            return None
        return commit_job(tree, f"pipeline-{name}-{secrets.token_hex(4)}", name, backend)
    except (GitFailed, PaiError):
        return None


# -- module functions ------------------------------------------------------------------------
def pipelines(backend: BackendArg = None) -> list[dict[str, Any]]:
    return list(resolve_backend(backend).pipelines.list())


def get_pipeline(name: str, backend: BackendArg = None, limit: int = 20) -> dict[str, Any]:
    """``{"pipeline", "runs"}``."""
    return resolve_backend(backend).pipelines.get(name, limit=limit)


def run_pipeline(name: str, backend: BackendArg = None) -> PipelineRun:
    be = resolve_backend(backend)
    return PipelineRun(be.pipelines.run(name, {"kind": "manual"}), be)


def get_run(run_id: str, backend: BackendArg = None) -> PipelineRun:
    be = resolve_backend(backend)
    return PipelineRun(be.pipelines.get_run(run_id), be)


def pipeline_runs(name: str, backend: BackendArg = None, limit: int = 20) -> list[dict[str, Any]]:
    return list(resolve_backend(backend).pipelines.runs(name, limit=limit))


def pause_pipeline(name: str, backend: BackendArg = None) -> dict[str, Any]:
    return resolve_backend(backend).pipelines.pause(name)


def resume_pipeline(name: str, backend: BackendArg = None) -> dict[str, Any]:
    return resolve_backend(backend).pipelines.resume(name)


def delete_pipeline(name: str, backend: BackendArg = None) -> None:
    resolve_backend(backend).pipelines.delete(name)


__all__ = [
    "Pipeline",
    "PipelineRun",
    "delete_pipeline",
    "get_pipeline",
    "get_run",
    "pause_pipeline",
    "pipeline_runs",
    "pipelines",
    "resume_pipeline",
    "run_pipeline",
]
