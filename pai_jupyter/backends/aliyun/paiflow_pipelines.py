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
import time
from typing import TYPE_CHECKING, Any

from ...errors import NotFoundError, ValidationError
from ...records import CREATING, FAILED, QUEUING, RUNNING, STOPPED, SUCCEEDED
from ...specs.job import JobSpec
from ...specs.pipeline import PipelineSpec
from ...storage.uri import OssUri
from . import dlc_jobs as dj
from .paiflow_compile import StepPlacement, check_expressible, compile_pipeline

if TYPE_CHECKING:  # pragma: no cover
    from .dlc_training import DlcTraining
    from .oss_storage import OssStorage
    from .paiflow_client import PaiflowClient

# PAIFlow run status (PipelineRunStatus in pai/pipeline/run.py) -> the contract's state.
STATE_MAP = {
    "Initialized": CREATING,
    "ReadyToSchedule": QUEUING,
    "Starting": QUEUING,
    "WorkflowServiceStarting": QUEUING,
    "Running": RUNNING,
    "Succeeded": SUCCEEDED,
    "Failed": FAILED,
    "Terminated": STOPPED,
    "Suspended": STOPPED,
    "Skipped": STOPPED,
    "Unknown": FAILED,
}


def _epoch(value: Any) -> float | None:
    return dj.parse_time(value)


def run_record(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A PAIFlow run (GetPipelineRun / ListPipelineRuns item) as the pipeline contract's run dict."""
    status = str(raw.get("Status") or "Unknown")
    return {
        "id": raw.get("PipelineRunId"),
        "pipeline": name,
        "name": raw.get("Name"),
        "state": STATE_MAP.get(status, FAILED),
        "status": status,
        "created_at": _epoch(raw.get("GmtCreateTime")),
        "started_at": _epoch(raw.get("StartedAt")),
        "finished_at": _epoch(raw.get("FinishedAt")),
        "message": raw.get("Message") or "",
        "url": raw.get("PipelineRunUri"),
        "steps": {},
    }


class PaiflowPipelines:
    def __init__(self, storage: OssStorage, training: DlcTraining) -> None:
        from .paiflow_client import PaiflowClient

        self.storage = storage
        self.training = training
        self.config = training.config
        self.client: PaiflowClient = PaiflowClient(self.config)

    # -- where things are ---------------------------------------------------------------------
    def _root(self, name: str) -> OssUri:
        if not self.config.oss_bucket:
            raise ValidationError(
                "pipelines on PAI keep their code and registration on OSS, and no bucket is configured",
                "set PAI_JUPYTER_OSS_BUCKET (PaiConfig.oss_bucket)",
            )
        return OssUri(self.config.oss_bucket, f"pai-jupyter/pipelines/{name}/")

    def _record(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(self.storage.read_bytes(self._root(name).join("pipeline.json")))
        except NotFoundError:
            raise NotFoundError(
                f"pipeline {name} is not registered on PAI", "register it first: Pipeline(...).register()"
            ) from None

    # -- PipelineBackend ----------------------------------------------------------------------
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

    def register(self, spec: PipelineSpec) -> dict[str, Any]:
        compiled = self.compile(spec)
        workspace = self.training.workspace.workspace_id()
        pipeline_id = self.client.find_pipeline(
            compiled.identifier, compiled.provider, compiled.version, workspace
        )
        if pipeline_id is None:
            pipeline_id = self.client.create_pipeline(compiled.manifest, workspace)
        else:
            self.client.update_pipeline(pipeline_id, compiled.manifest)
        record = {
            "name": spec.name,
            "pipeline_id": pipeline_id,
            "identifier": compiled.identifier,
            "version": compiled.version,
            "provider": compiled.provider,
            "workspace_id": workspace,
            "registered_at": time.time(),
            "spec": spec.to_dict(),
        }
        self.storage.write_bytes(
            self._root(spec.name).join("pipeline.json"), json.dumps(record, indent=2).encode()
        )
        return record

    def run(self, name: str) -> dict[str, Any]:
        record = self._record(name)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        run_id = self.client.create_run(record["pipeline_id"], f"{name}-{stamp}", record.get("workspace_id") or "")
        return run_record(name, self.client.get_run(run_id))

    def runs(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        record = self._record(name)
        raw = self.client.list_runs(record["pipeline_id"], record.get("workspace_id") or "", limit)
        return [run_record(name, r) for r in raw]

    def get_run(self, name: str, run_id: str) -> dict[str, Any]:
        self._record(name)
        return run_record(name, self.client.get_run(run_id))

    def delete(self, name: str) -> None:
        record = self._record(name)
        self.client.delete_pipeline(record["pipeline_id"])
        self.storage.delete(self._root(name).join("pipeline.json"))
