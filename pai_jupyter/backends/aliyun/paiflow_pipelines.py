"""The aliyun backend's pipeline face: a ``PipelineSpec`` compiled to PAIFlow and run there.

There is no server of ours on Alibaba Cloud, so a pipeline is registered with PAI Pipelines and
runs server-side. ``register`` checks first what PAIFlow cannot express (``check_expressible``:
schedules and OSS triggers), so the refusal comes when the pipeline is defined, not when it was
meant to run. Then it puts each job step's script on OSS (the code snapshot the step mounts),
makes sure the pai-jupyter runtime is there (as for DLC jobs), compiles the manifest and creates
or updates the pipeline (identifier ``pai-jupyter-<name>``, version ``v1``, provider = the account).
What was registered is recorded on OSS next to the code (``pipeline.json``), so any notebook or
CLI with the same bucket finds the pipeline by name.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from ...errors import ConflictError, NotFoundError, ValidationError
from ...specs.job import JobSpec
from ...specs.pipeline import PipelineSpec
from ...storage.uri import OssUri
from . import dlc_jobs as dj
from .paiflow_compile import DECISION_PARAMETER, StepPlacement, check_expressible, compile_pipeline

if TYPE_CHECKING:  # pragma: no cover
    from .dlc_training import DlcTraining
    from .oss_storage import OssStorage
    from .paiflow_client import PaiflowClient

# PAIFlow run status (PipelineRunStatus in pai/pipeline/run.py) -> the pipeline contract's run state
# (queued, running, succeeded, failed, gated, stopped: controlplane.pipelines.store) and step state.
RUN_STATES = {
    "Initialized": "queued",
    "ReadyToSchedule": "queued",
    "Starting": "queued",
    "WorkflowServiceStarting": "queued",
    "Running": "running",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Terminated": "stopped",
    "Suspended": "stopped",
    "Skipped": "stopped",
    "Unknown": "failed",
}
STEP_STATES = {
    **RUN_STATES,
    "Initialized": "pending",
    "ReadyToSchedule": "pending",
    "Starting": "pending",
    "WorkflowServiceStarting": "pending",
    "Skipped": "skipped",
    "Terminated": "failed",
}
ACTIVE, PAUSED = "active", "paused"


def _epoch(value: Any) -> float | None:
    return dj.parse_time(value)


def _number(pipeline: str, run_name: Any) -> int | None:
    """The run's number: ``run`` names runs ``<pipeline>-<n>``; a run started elsewhere has none."""
    m = re.fullmatch(re.escape(pipeline) + r"-(\d+)", str(run_name or ""))
    return int(m.group(1)) if m else None


def run_json(
    spec: PipelineSpec,
    raw: dict[str, Any],
    nodes: list[dict[str, Any]],
    decisions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A PAIFlow run (GetPipelineRun / ListPipelineRuns item, its nodes' states, and the gate
    decisions its eval steps wrote) as the pipeline contract's ``run_json``. A run that ended
    with its deploy step skipped by the gate's condition is ``gated``, as on the local backend."""
    decisions = decisions or {}
    status = str(raw.get("Status") or "Unknown")
    by_name = {str(n.get("NodeName")): n for n in nodes}
    steps = []
    for step in spec.order():
        node = by_name.get(step.name) or {}
        state = STEP_STATES.get(str(node.get("Status") or ""), "pending")
        steps.append(
            {
                "name": step.name,
                "kind": step.kind,
                "state": state,
                "reason": "the gate did not pass" if state == "skipped" and step.kind == "deploy" else None,
                "job_id": None,  # PAIFlow runs the step; its node id is below
                "node_id": node.get("NodeId"),
                "service": step.service if step.kind == "deploy" else None,
                "version": None,
                "artefacts": {},
                "metrics": dict((decisions.get(step.name) or {}).get("candidate") or {}),
                "gate": decisions.get(step.name),
                "started_at": _epoch(node.get("StartedAt")),
                "finished_at": _epoch(node.get("FinishedAt")),
                "links": {"service": step.service} if step.kind == "deploy" and step.service else {},
            }
        )
    state = RUN_STATES.get(status, "failed")
    gated = any(s["kind"] == "deploy" and s["state"] == "skipped" for s in steps)
    if state == "succeeded" and gated:
        state = "gated"
    return {
        "id": raw.get("PipelineRunId"),
        "pipeline": spec.name,
        "number": _number(spec.name, raw.get("Name")),
        "state": state,
        "status": status,
        "reason": raw.get("Message") or ("the gate stopped the run before deploy" if state == "gated" else None),
        "trigger": {"kind": "manual"},  # PAIFlow keeps no trigger: every run here is started on request
        "created_at": _epoch(raw.get("GmtCreateTime")),
        "started_at": _epoch(raw.get("StartedAt")),
        "finished_at": _epoch(raw.get("FinishedAt")),
        "url": raw.get("PipelineRunUri"),
        "steps": steps,
    }


class PaiflowPipelines:
    """``backends.base.PipelineBackend`` on PAIFlow (runs and history live there; the registration on OSS)."""

    def __init__(self, storage: OssStorage, training: DlcTraining) -> None:
        from .paiflow_client import PaiflowClient

        self.storage = storage
        self.training = training
        self.config = training.config
        self.client: PaiflowClient = PaiflowClient(self.config)

    # -- where things are ---------------------------------------------------------------------
    def _base(self) -> OssUri:
        if not self.config.oss_bucket:
            raise ValidationError(
                "pipelines on PAI keep their code and registration on OSS, and no bucket is configured",
                "set PAI_JUPYTER_OSS_BUCKET (PaiConfig.oss_bucket)",
            )
        return OssUri(self.config.oss_bucket, "pai-jupyter/pipelines/")

    def _root(self, name: str) -> OssUri:
        return self._base().join(f"{name}/")

    def _record(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(self.storage.read_bytes(self._root(name).join("pipeline.json")))
        except NotFoundError:
            raise NotFoundError(
                f"pipeline {name} is not registered on PAI", "register it first: Pipeline(...).register()"
            ) from None

    def _save(self, record: dict[str, Any]) -> None:
        self.storage.write_bytes(
            self._root(record["name"]).join("pipeline.json"), json.dumps(record, indent=2).encode()
        )

    def _records(self) -> list[dict[str, Any]]:
        out = []
        for item in self.storage.list(self._base()):  # one folder per pipeline
            if not item.is_dir:
                continue
            try:
                out.append(
                    json.loads(self.storage.read_bytes(OssUri.parse(item.uri).as_dir().join("pipeline.json")))
                )
            except NotFoundError:
                continue  # a pipeline of the local backend's, or one being registered
        return sorted(out, key=lambda r: r["name"])

    def _pipeline_json(self, record: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = PipelineSpec.from_dict(record["spec"])
        return {
            "name": record["name"],
            "state": record.get("state", ACTIVE),
            "revision": record.get("revision", 1),
            "created_at": record.get("created_at"),
            "updated_at": record.get("registered_at"),
            "spec": record["spec"],
            "dag": {
                "nodes": [{"name": s.name, "kind": s.kind} for s in spec.order()],
                "edges": [[d, s.name] for s in spec.order() for d in s.dependencies()],
            },
            "next_run": None,  # PAIFlow has no schedule: runs start on request only
            "last_run": last,
            "backend": "paiflow",
            "pipeline_id": record["pipeline_id"],
        }

    def _run(self, record: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        spec = PipelineSpec.from_dict(record["spec"])
        run_id = str(raw["PipelineRunId"])
        nodes = self.client.node_statuses(run_id, str(raw["NodeId"])) if raw.get("NodeId") else []
        decisions: dict[str, dict[str, Any]] = {}
        for node in nodes:
            step = next((s for s in spec.steps if s.name == node.get("NodeName")), None)
            if step is None or not step.gate or node.get("Status") != "Succeeded" or not node.get("NodeId"):
                continue
            for output in self.client.node_outputs(run_id, str(node["NodeId"]), DECISION_PARAMETER):
                value = (output.get("Info") or {}).get("value")
                if output.get("Name") == DECISION_PARAMETER and isinstance(value, str):
                    try:
                        decisions[step.name] = {**json.loads(value), "service": spec.compare_service(step)}
                    except ValueError:
                        continue  # not ours to read; the run's state still stands
        return run_json(spec, raw, nodes, decisions)

    # -- compile ------------------------------------------------------------------------------
    def check(self, spec: PipelineSpec | dict[str, Any]) -> None:
        """Read-only: ValidationError (one line, naming the alternative) when PAIFlow cannot run ``spec``;
        callers may ask before uploading anything."""
        check_expressible(PipelineSpec.from_dict(spec) if isinstance(spec, dict) else spec)

    def compile(self, spec: PipelineSpec) -> Any:
        """Writes (OSS only: code snapshots, runtime): the compiled manifest, not registered."""
        spec.validate()
        check_expressible(spec)  # before anything is uploaded: the refusal comes at definition time
        root = self._root(spec.name)
        runtime = self.training._runtime(root.bucket)
        placements: dict[str, StepPlacement] = {}
        images: list[str] = []
        for step in spec.steps:
            if not step.is_job or step.job is None:
                continue
            code_uri = step.code_uri
            if not code_uri:
                code = root.join(f"steps/{step.name}/code/")
                self.storage.write_bytes(code.join(step.job.entry), (step.source or "").encode())
                code_uri = str(code.as_dir())
            image = self.training.workspace.image_for(step.job)
            images.append(image)
            placements[step.name] = StepPlacement(image=image, code_uri=code_uri)
        deploy_image = images[-1] if images else self.training.workspace.image_for(JobSpec(name=spec.name))
        return compile_pipeline(
            spec,
            provider=self.client.account_id(),
            placements=placements,
            runtime_uri=str(runtime.as_dir()),
            deploy_image=deploy_image,
            region=self.config.region,
        )

    # -- PipelineBackend ----------------------------------------------------------------------
    def register(self, spec: PipelineSpec | dict[str, Any]) -> dict[str, Any]:
        """Writes: refuses what PAIFlow cannot run, then creates or updates the PAIFlow pipeline."""
        if isinstance(spec, dict):
            spec = PipelineSpec.from_dict(spec)
        compiled = self.compile(spec)
        workspace = self.training.workspace.workspace_id()
        pipeline_id = self.client.find_pipeline(
            compiled.identifier, compiled.provider, compiled.version, workspace
        )
        if pipeline_id is None:
            pipeline_id = self.client.create_pipeline(compiled.manifest, workspace)
        else:
            self.client.update_pipeline(pipeline_id, compiled.manifest)
        now = time.time()
        try:
            previous = self._record(spec.name)
        except NotFoundError:
            previous = {}
        record = {
            "name": spec.name,
            "pipeline_id": pipeline_id,
            "identifier": compiled.identifier,
            "version": compiled.version,
            "provider": compiled.provider,
            "workspace_id": workspace,
            "state": previous.get("state", ACTIVE),
            "revision": int(previous.get("revision", 0)) + 1,
            "created_at": previous.get("created_at", now),
            "registered_at": now,
            "runs_started": int(previous.get("runs_started", 0)),
            "spec": spec.to_dict(),
        }
        self._save(record)
        return self._pipeline_json(record)

    def list(self) -> list[dict[str, Any]]:
        return [self._pipeline_json(r) for r in self._records()]

    def get(self, name: str, limit: int = 20) -> dict[str, Any]:
        record = self._record(name)
        runs = self._runs(record, limit)
        return {"pipeline": self._pipeline_json(record, runs[0] if runs else None), "runs": runs}

    def _runs(self, record: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        raw = self.client.list_runs(record["pipeline_id"], record.get("workspace_id") or "", limit)
        return [self._run(record, r) for r in raw]

    def runs(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        return self._runs(self._record(name), limit)

    def run(self, name: str, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
        """Writes: a PAIFlow run of the registered pipeline, started at once."""
        record = self._record(name)
        if not record["spec"].get("allow_overlap"):
            # PAIFlow has no queue to hold a run until the last one ends, so one is refused here.
            for raw in self.client.list_runs(record["pipeline_id"], record.get("workspace_id") or "", 20):
                if RUN_STATES.get(str(raw.get("Status")), "failed") in ("queued", "running"):
                    raise ConflictError(
                        f"pipeline {name} has run {raw.get('Name') or raw.get('PipelineRunId')} still "
                        f"{str(raw.get('Status')).lower()} on PAI, and its runs may not overlap",
                        f"wait for it (jupyter pai pipelines runs {name}), or define the pipeline with allow_overlap",
                    )
        record["runs_started"] = int(record.get("runs_started", 0)) + 1
        self._save(record)  # before the run: a number is never given twice, at worst skipped
        run_name = f"{name}-{record['runs_started']}"
        run_id = self.client.create_run(record["pipeline_id"], run_name, record.get("workspace_id") or "")
        return self._run(record, self.client.get_run(run_id))

    def get_run(self, run_id: str) -> dict[str, Any]:
        raw = self.client.get_run(run_id)
        for record in self._records():
            if record["pipeline_id"] == raw.get("PipelineId"):
                return self._run(record, raw)
        raise NotFoundError(f"run {run_id} belongs to no pipeline registered from here")

    def _set_state(self, name: str, state: str) -> dict[str, Any]:
        record = self._record(name)
        record["state"] = state
        self._save(record)
        return self._pipeline_json(record)

    def pause(self, name: str) -> dict[str, Any]:
        """Writes (the registration only): PAIFlow fires no triggers, so this only records the state."""
        return self._set_state(name, PAUSED)

    def resume(self, name: str) -> dict[str, Any]:
        return self._set_state(name, ACTIVE)

    def delete(self, name: str) -> None:
        """Writes: stops its unfinished runs (TerminatePipelineRun), then removes the PAIFlow pipeline
        and its registration (PAIFlow keeps past runs)."""
        record = self._record(name)
        for raw in self.client.list_runs(record["pipeline_id"], record.get("workspace_id") or "", 100):
            if RUN_STATES.get(str(raw.get("Status")), "failed") in ("queued", "running"):
                self.client.terminate_run(str(raw["PipelineRunId"]))
        self.client.delete_pipeline(record["pipeline_id"])
        self.storage.delete(self._root(name).join("pipeline.json"))
