"""The pipeline engine of the local control plane: triggers, runs, steps.

One loop (every ``PAI_PIPELINES_TICK`` seconds, default 1) does, in order:

1. **Triggers** of every active pipeline: a cron schedule fires when its next time
   (after the last one it fired for) has come; if several came while the control plane
   was down, the run starts once, for the latest, and records how many were missed. An
   ``oss://`` prefix is listed; objects new or changed since the last listing are
   collected, and once nothing more changed for ``debounce_s`` one run starts with their
   URIs in its trigger. A first look only takes note of what is there.
2. **Runs**: a queued run starts when no other run of its pipeline is running (unless
   ``allow_overlap``); a trigger that finds a run already queued adds itself to it (runs
   never pile up). A running run starts every step whose dependencies succeeded and
   follows every running step:

   - job steps (preprocess / train / eval) are submitted to the job runner with their
     artefact inputs as data channels and an output folder of their own
     (``oss://<bucket>/pai-jupyter/pipelines/<pipeline>/<run>/<step>/``);
   - an eval step's metrics are what its script reported (``report()``) overlaid by its
     ``metrics_file`` when it wrote one; its gate is decided by
     ``decisions.gate.decide_gate`` against the metrics recorded for the version the
     service serves now. A failed gate ends the run as ``gated``: nothing after it runs;
   - a deploy step deploys through the serving manager (a new version goes out by its
     gated blue-green rollout) and succeeds when the rollout does; the eval metrics are
     then recorded as the new version's, for the next run's gate.

Everything is in SQLite (``store``) before and after each change, so a restart follows
running jobs and rollouts again and never repeats a finished step.

The clock is injectable (``clock=``, or ``PAI_PIPELINES_CLOCK``: a file holding the
current epoch seconds, for tests and demos of schedules).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...decisions.gate import decide_gate
from ...errors import NotFoundError, PaiError, ValidationError
from ...records import ROLLOUT_ACTIVE, ROLLOUT_SUCCEEDED, TERMINAL_STATES
from ...records import SUCCEEDED as JOB_SUCCEEDED
from ...specs.gate import parse_gate
from ...specs.job import DataInput
from ...specs.pipeline import ArtefactRef, CronTrigger, OssTrigger, PipelineSpec, StepSpec
from ...specs.service import ServiceSpec
from ...storage.local import LocalStorage
from ...storage.uri import OssUri
from ..jobs.runner import JobRunner
from ..jobs.store import JobStore
from .store import (
    ACTIVE,
    FAILED,
    GATED,
    PENDING,
    QUEUED,
    RUN_ACTIVE,
    RUNNING,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    PipelineStore,
)

log = logging.getLogger(__name__)
Clock = Callable[[], float]
MAX_MISSED = 100_000  # fire times counted after a long stop before we stop counting


def clock_from_env() -> Clock:
    """``time.time``, or the time in the file ``PAI_PIPELINES_CLOCK`` names (tests, demos)."""
    path = os.environ.get("PAI_PIPELINES_CLOCK")
    if not path:
        return time.time

    def read() -> float:
        try:
            return float(Path(path).read_text().strip())
        except (OSError, ValueError):
            return time.time()

    return read


def tick_from_env() -> float:
    try:
        return max(0.05, float(os.environ.get("PAI_PIPELINES_TICK", "1.0")))
    except ValueError:
        return 1.0


class PipelineEngine:
    def __init__(
        self,
        store: PipelineStore,
        jobs: JobStore,
        runner: JobRunner,
        serving: Any,  # controlplane.serving.manager.ServingManager
        storage: LocalStorage,
        default_bucket: str,
        clock: Clock | None = None,
        tick: float | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.runner = runner
        self.serving = serving
        self.storage = storage
        self.bucket = default_bucket
        self.clock = clock or clock_from_env()
        self.tick = tick if tick is not None else tick_from_env()
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="pai-pipelines")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # one bad tick must not stop every pipeline
                log.exception("pipeline tick failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def step(self) -> None:
        """One pass: triggers, then every active run."""
        now = self.clock()
        for name in self.store.names():
            pipeline = self.store.get(name)
            if pipeline["state"] != ACTIVE:
                continue
            try:
                self._check_triggers(PipelineSpec.from_dict(pipeline["spec"]), now)
            except PaiError as exc:
                log.warning("pipeline %s: trigger check failed: %s", name, exc)
        for run_id in self.store.active_run_ids():
            await self._advance(run_id)

    # -- starting runs -----------------------------------------------------------------
    def start_run(self, name: str, trigger: dict[str, Any]) -> str:
        """Queue a run of ``name`` (it starts at the next pass); join the queued one if there is one
        and the pipeline does not allow overlap. Returns the run's id."""
        pipeline = self.store.get(name)
        spec = PipelineSpec.from_dict(pipeline["spec"])
        now = self.clock()
        trigger = {**trigger, "at": now}
        if not spec.allow_overlap:
            for run_id in self.store.active_run_ids(name):
                run = self.store.run_row(run_id)
                if run["state"] == QUEUED:
                    joined = [*run["trigger"].get("joined", []), trigger]
                    self.store.update_run(run_id, trigger={**run["trigger"], "joined": joined})
                    self.wake()
                    return run_id
        run_id = self.store.create_run(name, spec, trigger, now)
        self.wake()
        return run_id

    def prime(self, spec: PipelineSpec) -> None:
        """Take the first look of every trigger now (a schedule counts from now; what is under a
        prefix already starts nothing), so the first run is decided by what happens after."""
        self._check_triggers(spec, self.clock())

    def _check_triggers(self, spec: PipelineSpec, now: float) -> None:
        for index, trigger in enumerate(spec.triggers):
            key = f"{index}:{trigger.type}"
            if isinstance(trigger, CronTrigger):
                self._check_cron(spec.name, key, trigger, now)
            elif isinstance(trigger, OssTrigger):
                self._check_prefix(spec.name, key, trigger, now)

    def _check_cron(self, name: str, key: str, trigger: CronTrigger, now: float) -> None:
        from croniter import croniter

        state = self.store.trigger_state(name, key)
        if state is None:  # first look: the schedule counts from now
            self.store.set_trigger_state(name, key, {"last": now})
            return
        it = croniter(trigger.schedule, state["last"])
        due = it.get_next(float)
        if due > now:
            return
        latest, count = due, 1
        while count < MAX_MISSED:
            nxt = it.get_next(float)
            if nxt > now:
                break
            latest, count = nxt, count + 1
        self.store.set_trigger_state(name, key, {"last": latest})
        self.start_run(
            name,
            {"kind": "schedule", "schedule": trigger.schedule, "scheduled_for": latest, "missed": count - 1},
        )

    def _check_prefix(self, name: str, key: str, trigger: OssTrigger, now: float) -> None:
        prefix = OssUri.parse(trigger.prefix)
        current = {
            o.uri: [o.size, o.modified, o.etag]
            for o in self.storage.list(prefix, recursive=True)
            if not o.is_dir and o.uri.startswith(trigger.prefix)
        }
        state = self.store.trigger_state(name, key)
        if state is None:  # first look: what is there already starts nothing
            self.store.set_trigger_state(name, key, {"seen": current, "pending": {}, "changed_at": None})
            return
        seen, pending = state["seen"], state["pending"]
        new = {u: v for u, v in current.items() if seen.get(u) != v and pending.get(u) != v}
        if new:
            pending = {**pending, **new}
            self.store.set_trigger_state(name, key, {"seen": seen, "pending": pending, "changed_at": now})
            return
        if pending and now - float(state["changed_at"] or now) >= trigger.debounce_s:
            self.store.set_trigger_state(name, key, {"seen": current, "pending": {}, "changed_at": None})
            objects = sorted(u for u in pending if u in current)  # gone again (a writer's temp file): not news
            if objects:
                self.start_run(name, {"kind": "objects", "prefix": trigger.prefix, "objects": objects})

    # -- advancing a run ---------------------------------------------------------------
    async def _advance(self, run_id: str) -> None:
        run = self.store.run_row(run_id)
        spec = PipelineSpec.from_dict(run["spec"])
        if run["state"] == QUEUED:
            others = [r for r in self.store.active_run_ids(run["pipeline"]) if r != run_id]
            running = [r for r in others if self.store.run_row(r)["state"] == RUNNING]
            if running and not spec.allow_overlap:
                return
            self.store.update_run(run_id, state=RUNNING, started_at=self.clock())
        steps = {s["step"]: s for s in self.store.steps(run_id)}
        for step in spec.order():
            row = steps[step.name]
            try:
                if row["state"] == PENDING and all(steps[d]["state"] == SUCCEEDED for d in step.dependencies()):
                    await self._start_step(run_id, spec, step, steps)
                elif row["state"] == RUNNING:
                    await self._follow_step(run_id, spec, step, steps)
            except PaiError as exc:
                self._fail_step(run_id, step.name, exc.message)
            steps = {s["step"]: s for s in self.store.steps(run_id)}
            if steps[step.name]["state"] == FAILED:
                self._end_run(run_id, spec, steps, step)
                return
        if all(s["state"] == SUCCEEDED for s in steps.values()):
            self.store.update_run(run_id, state=SUCCEEDED, finished_at=self.clock(), reason=None)

    def _end_run(
        self, run_id: str, spec: PipelineSpec, steps: dict[str, dict[str, Any]], failed: StepSpec
    ) -> None:
        for name, row in steps.items():
            if row["state"] == PENDING:
                self.store.update_step(run_id, name, state=SKIPPED, reason=f"{failed.name} did not succeed")
        row = steps[failed.name]
        gate = row.get("gate")
        if gate is not None and not gate.get("passed"):
            state, reason = GATED, f"the gate of {failed.name} stopped the run before deploy: {gate['reason']}"
        else:
            state, reason = FAILED, f"step {failed.name} failed: {row['reason']}"
        self.store.update_run(run_id, state=state, reason=reason, finished_at=self.clock())

    def _fail_step(self, run_id: str, step: str, reason: str) -> None:
        self.store.update_step(run_id, step, state=FAILED, reason=reason, finished_at=self.clock())

    def _resolve(self, run_id: str, step: StepSpec, steps: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The step's inputs as URIs: references become the artefacts the earlier steps left."""
        resolved = {}
        for channel, value in step.inputs.items():
            ref = ArtefactRef.parse(value)
            if ref is None:
                resolved[channel] = value
                continue
            artefacts = steps[ref.step]["artefacts"]
            if ref.artefact not in artefacts:
                raise ValidationError(f"step {ref.step} left no {ref.artefact} for {step.name}")
            resolved[channel] = artefacts[ref.artefact]
        return resolved

    async def _start_step(
        self, run_id: str, spec: PipelineSpec, step: StepSpec, steps: dict[str, dict[str, Any]]
    ) -> None:
        now = self.clock()
        inputs = self._resolve(run_id, step, steps)
        if step.is_job:
            record = self._submit(spec, run_id, step, inputs, step.name)
            self.store.update_step(
                run_id, step.name, state=RUNNING, job_id=record.id, started_at=now, artefacts={"inputs": inputs}
            )
            return
        # deploy: marked running with its model before the call, so a restart finds the version it made
        self.store.update_step(
            run_id, step.name, state=RUNNING, started_at=now, artefacts={"model": inputs["model"]}
        )
        await self._deploy(run_id, spec, step, steps, inputs["model"])

    def _submit(self, spec: PipelineSpec, run_id: str, step: StepSpec, inputs: dict[str, str], folder: str) -> Any:
        """Submit ``step``'s job with ``inputs`` as data channels and its own output folder."""
        assert step.job is not None
        output = OssUri(self.bucket, f"pai-jupyter/pipelines/{spec.name}/{run_id}/{folder}/")
        job = step.job.with_changes(
            inputs=tuple(step.job.inputs) + tuple(DataInput(uri, channel) for channel, uri in inputs.items()),
            output=str(output) if folder != step.name or not step.job.output else step.job.output,
            env={
                **step.job.env,
                "PAI_PIPELINE": spec.name,
                "PAI_PIPELINE_RUN": run_id,
                "PAI_PIPELINE_STEP": folder,
            },
        )
        provenance = {
            "pipeline": {"name": spec.name, "run": run_id, "step": step.name},
            "pipeline_provenance": spec.provenance,
            "spec": job.to_dict(),
        }
        return self.runner.submit(job, step.code_uri, provenance)

    async def _deploy(
        self, run_id: str, spec: PipelineSpec, step: StepSpec, steps: dict[str, dict[str, Any]], model_uri: str
    ) -> None:
        assert step.deploy is not None and step.service is not None
        options = step.deploy
        service = ServiceSpec.from_dict(
            {**options.options, "name": step.service, "processor": options.processor}
        ).validate()
        ref = ArtefactRef.parse(step.inputs["model"])
        body = {
            "spec": service.to_dict(),
            "model_uri": model_uri,
            "plan": options.plan.to_dict() if options.plan else None,
            "new_api_version": options.new_api_version,
            "job_id": steps[ref.step]["job_id"] if ref is not None else None,
        }
        record = await self.serving.deploy(body)
        version = max(v.version for v in record.versions if v.model_uri == model_uri)
        self.store.update_step(run_id, step.name, version=version)

    async def _follow_step(
        self, run_id: str, spec: PipelineSpec, step: StepSpec, steps: dict[str, dict[str, Any]]
    ) -> None:
        row = steps[step.name]
        if step.is_job:
            record = self.jobs.get(row["job_id"])
            if record.state not in TERMINAL_STATES:
                return
            if record.state != JOB_SUCCEEDED:
                self._fail_step(
                    run_id, step.name, f"job {record.id} {record.state.lower()}: {record.reason or ''}".strip()
                )
                return
            output = record.outputs.get("model", "")
            artefacts = {**row["artefacts"], "output": output, "model": output}
            if step.kind != "eval":
                self.store.update_step(
                    run_id, step.name, state=SUCCEEDED, artefacts=artefacts, finished_at=self.clock(), reason=None
                )
                return
            self._judge(run_id, spec, step, record.id, output, artefacts)
            return
        await self._follow_deploy(run_id, spec, step, steps, row)

    def _judge(
        self, run_id: str, spec: PipelineSpec, step: StepSpec, job_id: str, output: str, artefacts: dict[str, Any]
    ) -> None:
        metrics = self._eval_metrics(job_id, output, step.metrics_file)
        artefacts = {**artefacts, "metrics": metrics}
        if step.gate is None:
            self.store.update_step(
                run_id, step.name, state=SUCCEEDED, metrics=metrics, artefacts=artefacts, finished_at=self.clock()
            )
            return
        service = spec.compare_service(step)
        serving, serving_version = self._serving_metrics(service)
        if (
            serving == {}
            and service is not None
            and serving_version is not None
            and parse_gate(step.gate).serving_names
        ):
            serving = self._baseline(run_id, spec, step, artefacts, service, serving_version)
            if serving is None:
                return  # the serving version is being evaluated on the same held-out data
        decision = decide_gate(step.gate, metrics, serving).to_dict()
        decision["service"], decision["serving_version"] = service, serving_version
        self.store.update_step(
            run_id,
            step.name,
            state=SUCCEEDED if decision["passed"] else FAILED,
            reason=None if decision["passed"] else f"gate {decision['reason']}",
            metrics=metrics,
            gate=decision,
            artefacts=artefacts,
            finished_at=self.clock(),
        )

    def _baseline(
        self,
        run_id: str,
        spec: PipelineSpec,
        step: StepSpec,
        artefacts: dict[str, Any],
        service: str,
        version: int,
    ) -> dict[str, float] | None:
        """Figures for a serving version nobody recorded (deployed by hand): the same eval script on the
        same held-out data against the serving model, once; recorded as that version's. None while it runs."""
        baseline = artefacts.get("baseline_job")
        if baseline is None:
            model_uri = next(v.model_uri for v in self.serving.record(service).versions if v.version == version)
            inputs = {**artefacts.get("inputs", {}), "model": model_uri}
            record = self._submit(spec, run_id, step, inputs, f"{step.name}-serving-v{version}")
            self.store.update_step(run_id, step.name, artefacts={**artefacts, "baseline_job": record.id})
            return None
        job = self.jobs.get(baseline)
        if job.state not in TERMINAL_STATES:
            self.store.update_step(run_id, step.name, artefacts=artefacts)
            return None
        if job.state != JOB_SUCCEEDED:
            raise ValidationError(
                f"could not evaluate the serving version {service} v{version} for the gate: job {baseline} "
                f"{job.state.lower()}",
                f"see jupyter pai jobs logs {baseline}",
            )
        figures = self._eval_metrics(baseline, job.outputs.get("model", ""), step.metrics_file)
        self.store.record_serving_metrics(service, version, figures, run_id, self.clock())
        return figures

    def _eval_metrics(self, job_id: str, output: str, metrics_file: str) -> dict[str, float]:
        """The last value of every metric worker 0 reported, overlaid by the metrics file if written."""
        metrics: dict[str, float] = {}
        for point in self.jobs.metrics(job_id):
            if point.source == "report" and point.worker == 0:
                metrics[point.name] = point.value
        if output:
            path = self.storage.path_for(OssUri.parse(output).as_dir().join(metrics_file))
            if path.is_file():
                try:
                    data = json.loads(path.read_text())
                except ValueError:
                    raise ValidationError(f"{metrics_file} written by job {job_id} is not JSON") from None
                if not isinstance(data, dict):
                    raise ValidationError(f"{metrics_file} written by job {job_id} is not an object of figures")
                metrics.update({str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))})
        return metrics

    def _serving_metrics(self, service: str | None) -> tuple[dict[str, float] | None, int | None]:
        """The recorded metrics of the version ``service`` serves now; None when it does not exist."""
        if service is None:
            return None, None
        try:
            record = self.serving.record(service)
        except NotFoundError:
            return None, None
        serving = [v for v in record.versions if v.weight > 0]
        if not serving:
            return None, None
        version = max(serving, key=lambda v: (v.weight, v.version)).version
        return self.store.serving_metrics(service, version) or {}, version

    async def _follow_deploy(
        self,
        run_id: str,
        spec: PipelineSpec,
        step: StepSpec,
        steps: dict[str, dict[str, Any]],
        row: dict[str, Any],
    ) -> None:
        assert step.service is not None
        model_uri = row["artefacts"].get("model", "")
        version = row["version"]
        if version is None:  # the control plane stopped during the deploy call
            try:
                record = self.serving.record(step.service)
                made = [v.version for v in record.versions if v.model_uri == model_uri]
            except NotFoundError:
                made = []
            if not made:
                await self._deploy(run_id, spec, step, steps, model_uri)
                return
            version = max(made)
            self.store.update_step(run_id, step.name, version=version)
        record = self.serving.record(step.service)
        rollout = record.rollout
        if rollout is not None and rollout.to_version == version:
            if rollout.state in ROLLOUT_ACTIVE:
                return
            if rollout.state != ROLLOUT_SUCCEEDED:
                self._fail_step(
                    run_id, step.name, f"the rollout of v{version} {rollout.state}: {rollout.reason or ''}".strip()
                )
                return
        metrics = self._upstream_metrics(spec, step, steps)
        if metrics:
            self.store.record_serving_metrics(step.service, version, metrics, run_id, self.clock())
        self._record_deployment(run_id, spec, step, steps, version, model_uri)
        self.store.update_step(run_id, step.name, state=SUCCEEDED, finished_at=self.clock(), reason=None)

    def _record_deployment(
        self,
        run_id: str,
        spec: PipelineSpec,
        step: StepSpec,
        steps: dict[str, dict[str, Any]],
        version: int,
        model_uri: str,
    ) -> None:
        """Who deployed the version (this pipeline's run, with the gate that let it through), where
        ``jupyter pai lineage`` reads it: the record a deploy from the client API writes."""
        import socket

        ref = ArtefactRef.parse(step.inputs["model"])
        run = self.store.run_row(run_id)
        record = {
            "service": step.service,
            "version": version,
            "user": f"pipeline {spec.name} run #{run['number']}",
            "host": socket.gethostname(),
            "at": time.time(),
            "backend": "local",
            "model_uri": model_uri,
            "job_id": steps[ref.step]["job_id"] if ref is not None else None,
            "pipeline": {"name": spec.name, "run": run_id, "step": step.name},
            "gates": [s["gate"] for s in steps.values() if s.get("gate")],
        }
        # api.lineage.DEPLOYMENTS (the control plane cannot import the client API)
        uri = OssUri(self.bucket, f"pai-jupyter/deployments/{step.service}/v{version}.json")
        self.storage.write_bytes(uri, json.dumps(record, indent=2, default=str).encode())

    def _upstream_metrics(
        self, spec: PipelineSpec, step: StepSpec, steps: dict[str, dict[str, Any]]
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for other in spec.order():
            if other.kind == "eval" and step.name in spec.downstream(other.name):
                metrics.update(steps[other.name]["metrics"] or {})
        return metrics

    # -- stopping --------------------------------------------------------------------------
    def stop_runs(self, name: str, why: str) -> None:
        """Stop every active run of ``name`` (their running jobs too)."""
        for run_id in self.store.active_run_ids(name):
            for row in self.store.steps(run_id):
                if row["state"] == RUNNING and row["job_id"]:
                    try:
                        self.runner.stop(row["job_id"])
                    except PaiError:
                        pass
                if row["state"] in (PENDING, RUNNING):
                    self.store.update_step(run_id, row["step"], state=SKIPPED, reason=why)
            self.store.update_run(run_id, state=STOPPED, reason=why, finished_at=self.clock())


__all__ = ["RUN_ACTIVE", "PipelineEngine", "clock_from_env"]
