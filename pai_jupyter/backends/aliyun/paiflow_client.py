"""PAIFlow 2021-02-02 calls through the official SDK (``alibabacloud-paiflow20210202``).

Every call goes through ``Client.*_with_options`` of the SDK, so the requests on the wire are the
SDK's (paths, PascalCase keys, ACS3 signature); failures become one ``PaiError`` line through
``sdk_errors``. Reads retry on throttling and 5xx (``read_call``); writes run once.

The operations used and what the PAI SDK does with them (pai/api/pipeline.py, pipeline_run.py):
CreatePipeline (``Manifest``, ``WorkspaceId``), UpdatePipeline, ListPipelines (identifier + provider +
version locate a pipeline), GetPipeline, DeletePipeline, CreatePipelineRun (``PipelineId``,
``Name``, ``NoConfirmRequired``: start at once), GetPipelineRun, ListPipelineRuns (``PipelineIds``),
TerminatePipelineRun. A custom pipeline's ``provider`` is the account id, which the PAI SDK reads
from STS GetCallerIdentity (``Session.provider`` in pai/session.py); so does ``account_id``.
There is no schedule operation in this API (see ``paiflow_compile``).
"""

from __future__ import annotations

from typing import Any

from ...config import PaiConfig
from .credentials import openapi_config, region_endpoint
from .sdk_errors import read_call, sdk_call

PIPELINE_SDKS = {
    "alibabacloud_paiflow20210202": "alibabacloud-paiflow20210202",
    "alibabacloud_sts20150401": "alibabacloud-sts20150401",
}


def _runtime() -> Any:
    from alibabacloud_tea_util.models import RuntimeOptions

    return RuntimeOptions()


class PaiflowClient:
    """One workspace's PAIFlow pipelines and runs."""

    def __init__(self, config: PaiConfig) -> None:
        from . import check_sdks

        check_sdks(PIPELINE_SDKS)
        self.config = config
        self.endpoint = region_endpoint(config, "paiflow")
        self._client: Any = None
        self._account: str | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_paiflow20210202.client import Client

            self._client = Client(openapi_config(self.config, "paiflow"))
        return self._client

    def _read(self, what: str, fn: Any) -> Any:
        return read_call(what, self.endpoint, "check PaiConfig.region and the workspace (PAI Pipelines)", fn)

    # -- identity ---------------------------------------------------------------------------
    def account_id(self) -> str:
        """The caller's account id: a custom pipeline's ``provider`` (STS GetCallerIdentity)."""
        if self._account is None:
            from alibabacloud_sts20150401.client import Client

            sts = Client(openapi_config(self.config, "sts"))
            body = read_call(
                "GetCallerIdentity (the account id a pipeline's provider is)",
                region_endpoint(self.config, "sts"),
                "check the credentials (see `jupyter pai doctor`)",
                lambda: sts.get_caller_identity().body,
            )
            self._account = str(body.account_id or "")
        return self._account

    # -- pipelines --------------------------------------------------------------------------
    def find_pipeline(self, identifier: str, provider: str, version: str, workspace_id: str) -> str | None:
        """The id of the pipeline ``identifier``/``provider``/``version`` in the workspace, or None."""
        from alibabacloud_paiflow20210202 import models

        request = models.ListPipelinesRequest(
            pipeline_identifier=identifier,
            pipeline_provider=provider,
            pipeline_version=version,
            workspace_id=workspace_id or None,
            page_number=1,
            page_size=10,
        )
        body = self._read(
            f"ListPipelines {identifier}",
            lambda: self.client.list_pipelines_with_options(request, {}, _runtime()).body,
        )
        for item in body.pipelines or []:
            if item.identifier == identifier and item.version == version:
                return str(item.pipeline_id)
        return None

    def create_pipeline(self, manifest: str, workspace_id: str) -> str:
        """Writes: registers the manifest; returns the pipeline id."""
        from alibabacloud_paiflow20210202 import models

        request = models.CreatePipelineRequest(manifest=manifest, workspace_id=workspace_id or None)
        with sdk_call("CreatePipeline", self.endpoint, "the manifest was refused; see the message"):
            return str(self.client.create_pipeline_with_options(request, {}, _runtime()).body.pipeline_id)

    def update_pipeline(self, pipeline_id: str, manifest: str) -> None:
        """Writes: replaces the registered manifest of ``pipeline_id``."""
        from alibabacloud_paiflow20210202 import models

        request = models.UpdatePipelineRequest(manifest=manifest)
        with sdk_call(f"UpdatePipeline {pipeline_id}", self.endpoint, "the manifest was refused; see the message"):
            self.client.update_pipeline_with_options(pipeline_id, request, {}, _runtime())

    def get_pipeline(self, pipeline_id: str) -> dict[str, Any]:
        body = self._read(
            f"GetPipeline {pipeline_id}",
            lambda: self.client.get_pipeline_with_options(pipeline_id, {}, _runtime()).body,
        )
        return dict(body.to_map())

    def delete_pipeline(self, pipeline_id: str) -> None:
        """Writes: removes the registered pipeline (its runs stay)."""
        with sdk_call(f"DeletePipeline {pipeline_id}", self.endpoint):
            self.client.delete_pipeline_with_options(pipeline_id, {}, _runtime())

    # -- runs -------------------------------------------------------------------------------
    def create_run(self, pipeline_id: str, name: str, workspace_id: str) -> str:
        """Writes: starts a run of the registered pipeline at once; returns the run id."""
        from alibabacloud_paiflow20210202 import models

        request = models.CreatePipelineRunRequest(
            pipeline_id=pipeline_id, name=name, no_confirm_required=True, workspace_id=workspace_id or None
        )
        with sdk_call(f"CreatePipelineRun {name}", self.endpoint, "check the pipeline and its arguments"):
            body = self.client.create_pipeline_run_with_options(request, {}, _runtime()).body
        return str(body.pipeline_run_id)

    def get_run(self, run_id: str) -> dict[str, Any]:
        from alibabacloud_paiflow20210202 import models

        body = self._read(
            f"GetPipelineRun {run_id}",
            lambda: (
                self.client.get_pipeline_run_with_options(
                    run_id, models.GetPipelineRunRequest(), {}, _runtime()
                ).body
            ),
        )
        return dict(body.to_map())

    def list_runs(self, pipeline_id: str, workspace_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The pipeline's runs, newest first (as PAIFlow orders them)."""
        from alibabacloud_paiflow20210202 import models

        request = models.ListPipelineRunsRequest(
            pipeline_ids=pipeline_id,
            workspace_id=workspace_id or None,
            page_number=1,
            page_size=max(1, min(limit, 100)),
        )
        body = self._read(
            f"ListPipelineRuns {pipeline_id}",
            lambda: self.client.list_pipeline_runs_with_options(request, {}, _runtime()).body,
        )
        return [dict(r.to_map()) for r in body.pipeline_runs or []]

    def _node_read(self, action: str, method: str, run_id: str, node_id: str, request: Any) -> Any:
        call = getattr(self.client, method)
        return self._read(
            f"{action} {run_id} {node_id}", lambda: call(run_id, node_id, request, {}, _runtime()).body
        )

    def node_statuses(self, run_id: str, node_id: str) -> list[dict[str, Any]]:
        """Read: the states of the run's nodes below ``node_id`` (the run's ``NodeId`` is its root,
        as ``PipelineRun.travel_node_status_info`` in pai/pipeline/run.py walks it)."""
        from alibabacloud_paiflow20210202 import models

        request = models.ListPipelineRunNodeStatusRequest(depth=2)
        body = self._node_read(
            "ListPipelineRunNodeStatus", "list_pipeline_run_node_status_with_options", run_id, node_id, request
        )
        return [dict(s.to_map()) for s in body.status or []]

    def node_outputs(self, run_id: str, node_id: str, name: str | None = None) -> list[dict[str, Any]]:
        """Read: what a node produced (``Name``, ``Type``, ``Info`` with the ``value``; ``get_outputs``
        in pai/pipeline/run.py, ``ArchivedArtifact.deserialize`` in pai/pipeline/artifact.py)."""
        from alibabacloud_paiflow20210202 import models

        request = models.ListPipelineRunNodeOutputsRequest(name=name, depth=1, page_number=1, page_size=50)
        body = self._node_read(
            "ListPipelineRunNodeOutputs", "list_pipeline_run_node_outputs_with_options", run_id, node_id, request
        )
        return [dict(o.to_map()) for o in body.outputs or []]

    def terminate_run(self, run_id: str) -> None:
        """Writes: stops a run."""
        with sdk_call(f"TerminatePipelineRun {run_id}", self.endpoint):
            self.client.terminate_pipeline_run_with_options(run_id, {}, _runtime())
