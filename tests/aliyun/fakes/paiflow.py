"""A fake PAIFlow 2021-02-02 (PAI Pipelines) and the one STS call a pipeline's provider needs.

Where each behaviour comes from:

- Routes, methods, body and query keys: the ``*_with_options`` methods of
  ``alibabacloud_paiflow20210202/client.py`` (1.0.3): CreatePipeline ``POST /api/v1/pipelines``
  (body ``Manifest``, ``WorkspaceId``), UpdatePipeline ``PUT /api/v1/pipelines/{id}`` (``Manifest``),
  GetPipeline / DeletePipeline ``GET|DELETE /api/v1/pipelines/{id}``, ListPipelines
  ``GET /api/v1/pipelines``, CreatePipelineRun ``POST /api/v1/pipelineruns``, GetPipelineRun
  ``GET /api/v1/pipelineruns/{id}``, ListPipelineRuns ``GET /api/v1/pipelineruns``,
  ListPipelineRunNodeStatus ``GET /api/v1/pipelineruns/{id}/nodes/{node}/status`` (the run's ``NodeId``
  is its root node, ``PipelineRun.travel_node_status_info`` in pai/pipeline/run.py),
  ListPipelineRunNodeOutputs ``GET /api/v1/pipelineruns/{id}/nodes/{node}/outputs``,
  StartPipelineRun ``PUT /api/v1/pipelineruns/{id}/start``, TerminatePipelineRun
  ``PUT /api/v1/pipelineruns/{id}/termination``. Keys outside the SDK's sets are contract breaks.
- Response shapes: the response models in ``alibabacloud_paiflow20210202/models.py``
  (``CreatePipelineResponseBody.PipelineId``, ``CreatePipelineRunResponseBody.PipelineRunId``,
  ``GetPipelineRunResponseBody``, ``ListPipelineRunsResponseBody{PipelineRuns, TotalCount}`` ...);
  the field names are read from the models' ``from_map`` (``model_fields``), never invented.
- CreatePipelineRun needs ``PipelineId`` or ``PipelineManifest`` (the API page "CreatePipelineRun",
  https://www.alibabacloud.com/help/en/pai/developer-reference/api-paiflow-2021-02-02-createpipelinerun);
  both at once is refused as the PAI SDK refuses it (``PipelineRunAPI.create`` in pai/api/pipeline_run.py).
  ``Arguments`` is the YAML of ``{"arguments": {"parameters": [...], "artifacts": [...]}, "env": ...}``
  (``PipelineRunAPI.create``); every required pipeline input parameter must be given there.
  Without ``NoConfirmRequired`` a run waits in ``Initialized`` for StartPipelineRun
  (``PipelineRun.wait_for_completion`` in pai/pipeline/run.py); run states are
  ``PipelineRunStatus`` there.
- The manifest (YAML, several documents: the unregistered components first, the pipeline last,
  ``Pipeline.to_dict`` / ``to_manifest`` in pai/pipeline/core.py), checked as the manifest page says
  ("PAI-Flow manifest parameters", https://www.alibabacloud.com/help/en/pai/developer-reference/pipeline-manifest):
  ``apiVersion`` only ``core/v1``; ``metadata`` required with ``identifier``, ``version`` and
  ``provider`` (your account id, or ``PAI``) on the pipeline; ``guid`` identifies temporary
  (unregistered) components and must be unique. Components carry ``metadata.name`` ("PAIFlow Service
  require field name in metadata dict", ``UnRegisteredComponent.metadata_to_dict`` in
  pai/pipeline/component/_base.py) and ``spec.container`` with ``image`` and a list ``command``
  (``ContainerComponent.to_dict`` in pai/pipeline/component/_container.py). Parameter types are
  ``ParameterType`` (pai/pipeline/types/parameter.py); artifact metadata is
  ``{"type": {<DataType>: {"locationType": <LocationType>}}}`` (``LocationArtifactMetadata`` in
  pai/pipeline/types/artifact.py). Steps (``PipelineStep.to_dict`` in pai/pipeline/step.py) name a
  component by ``guid`` or by ``identifier``/``provider``/``version``; ``spec.arguments`` assign only
  the component's declared inputs; ``from`` references are ``{{pipelines.<step>.outputs.<kind>.<name>}}``
  or ``{{inputs.<kind>.<name>}}`` (``PipelineVariable.fullname``) and must name something that exists;
  ``dependencies`` name steps of this pipeline and may not form a cycle (``Pipeline._topo_sort``);
  ``when`` is ``{{<parameter>}} <op> <value>`` (``ConditionExpr.to_expr``).
- A run's steps: the fake does not run containers. ``finish_run(run_id, outputs)`` plays the run
  out: each step succeeds in dependency order, a step whose ``when`` is false is ``Skipped``
  (``PipelineRunStatus.Skipped``) and so are the steps after it, as a ConditionStep is documented
  to behave ("A ConditionStep only execute if condition evaluate to true", pai/pipeline/step.py).
- STS GetCallerIdentity (``POST /``, version 2015-04-01, ``alibabacloud_sts20150401/client.py``)
  answers ``AccountId`` (``GetCallerIdentityResponseBody``): the PAI SDK's ``Session.provider``
  is that account id (pai/session.py).
- Every request's ACS3 signature is verified (``signing.verify_acs3``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from alibabacloud_paiflow20210202 import models as flow_models

from .common import FakeServer, Request, Response, acs_error, check_acs_request, json_response, request_id

VERSION = "2021-02-02"
STS_VERSION = "2015-04-01"
ACCOUNT_ID = "1557702098194904"


def model_fields(cls: type) -> set[str]:
    """The wire names an SDK model reads (its ``from_map``)."""
    return set(re.findall(r"m\.get\('(\w+)'\)", inspect.getsource(cls.from_map)))


BODY_KEYS = {
    "CreatePipeline": model_fields(flow_models.CreatePipelineRequest),
    "UpdatePipeline": model_fields(flow_models.UpdatePipelineRequest),
    "CreatePipelineRun": model_fields(flow_models.CreatePipelineRunRequest),
}
QUERY_KEYS = {
    "ListPipelines": model_fields(flow_models.ListPipelinesRequest),
    "ListPipelineRuns": model_fields(flow_models.ListPipelineRunsRequest),
    "GetPipelineRun": model_fields(flow_models.GetPipelineRunRequest),
    "ListPipelineRunNodeStatus": model_fields(flow_models.ListPipelineRunNodeStatusRequest),
    "ListPipelineRunNodeOutputs": model_fields(flow_models.ListPipelineRunNodeOutputsRequest),
}
NODE_OUTPUT_FIELDS = model_fields(flow_models.ListPipelineRunNodeOutputsResponseBodyOutputs)
NODE_STATUS_FIELDS = model_fields(flow_models.ListPipelineRunNodeStatusResponseBodyStatus)
RUN_FIELDS = model_fields(flow_models.GetPipelineRunResponseBody)
LIST_RUN_FIELDS = model_fields(flow_models.ListPipelineRunsResponseBodyPipelineRuns)
PIPELINE_FIELDS = model_fields(flow_models.GetPipelineResponseBody)
# pai/pipeline/types/parameter.py ParameterType; artifact.py DataType and LocationType.
PARAMETER_TYPES = {"String", "Int", "Double", "Bool", "Map", "Array"}
DATA_TYPES = {"DataSet", "Model", "Any", "ModelEvaluation"}
LOCATION_TYPES = {"MaxComputeTable", "MaxComputeVolume", "MaxComputeOfflineModel", "OSS", None}
# pai/pipeline/run.py PipelineRunStatus.
RUNNING_STATES = {"ReadyToSchedule", "Starting", "Running", "WorkflowServiceStarting"}
TERMINAL_STATES = {"Succeeded", "Failed", "Terminated", "Suspended", "Skipped"}
_REF = re.compile(r"^\{\{(pipelines\.([\w-]+)\.)?(inputs|outputs)\.(parameters|artifacts)\.([\w-]+)\}\}$")
_WHEN = re.compile(r"^(\{\{[^}]+\}\})\s*(==|!=|<=|>=|<|>)\s*(.+)$")


class ManifestError(ValueError):
    pass


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _io(spec: dict[str, Any], side: str, where: str) -> dict[str, dict[str, Any]]:
    """Name -> declaration of one side (inputs/outputs) of a spec, both kinds, checked."""
    block = spec.get(side) or {}
    if not isinstance(block, dict) or set(block) - {"parameters", "artifacts"}:
        raise ManifestError(f"{where}.spec.{side} takes only 'parameters' and 'artifacts'")
    out: dict[str, dict[str, Any]] = {}
    for kind in ("parameters", "artifacts"):
        for item in block.get(kind) or []:
            name = item.get("name") if isinstance(item, dict) else None
            if not name:
                raise ManifestError(f"{where}.spec.{side}.{kind}: every item needs a name")
            if name in out:
                raise ManifestError(f"{where}.spec.{side}: the name {name!r} is declared twice")
            if kind == "parameters" and item.get("type") not in PARAMETER_TYPES:
                raise ManifestError(
                    f"{where}.spec.{side}.parameters.{name}: type {item.get('type')!r} is not one of {sorted(PARAMETER_TYPES)}"
                )
            if kind == "artifacts":
                _check_artifact_metadata(item.get("metadata"), f"{where}.spec.{side}.artifacts.{name}")
            out[name] = {**item, "_kind": kind}
    return out


def _check_artifact_metadata(metadata: Any, where: str) -> None:
    typ = (metadata or {}).get("type") if isinstance(metadata, dict) else None
    if not isinstance(typ, dict) or len(typ) != 1:
        raise ManifestError(f"{where}: metadata must be {{type: {{<DataType>: {{locationType: ...}}}}}}")
    data_type, attrs = next(iter(typ.items()))
    if data_type not in DATA_TYPES:
        raise ManifestError(f"{where}: data type {data_type!r} is not one of {sorted(DATA_TYPES)}")
    if (attrs or {}).get("locationType") not in LOCATION_TYPES:
        raise ManifestError(f"{where}: locationType {(attrs or {}).get('locationType')!r} is not known")


def parse_manifest(text: str, account_id: str) -> dict[str, Any]:
    """Check a manifest as PAIFlow documents it; return the pipeline document. ManifestError otherwise."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"the manifest is not YAML: {str(exc).splitlines()[0]}") from None
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise ManifestError("the manifest holds no pipeline document")
    components: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc.get("apiVersion") != "core/v1":
            raise ManifestError(f"apiVersion {doc.get('apiVersion')!r} is not supported; only core/v1")
        if not isinstance(doc.get("metadata"), dict) or not isinstance(doc.get("spec"), dict):
            raise ManifestError("every document needs metadata and spec")
    pipeline = docs[-1]
    for doc in docs[:-1]:
        meta = doc["metadata"]
        where = f"component {meta.get('name')!r}"
        if not meta.get("guid") or not meta.get("name"):
            raise ManifestError(f"{where}: an unregistered component needs metadata.guid and metadata.name")
        if meta["guid"] in components:
            raise ManifestError(f"{where}: guid {meta['guid']} is used twice")
        container = doc["spec"].get("container")
        if not isinstance(container, dict) or not container.get("image"):
            raise ManifestError(f"{where}: spec.container.image is required")
        command = container.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise ManifestError(f"{where}: spec.container.command must be a non-empty list of strings")
        envs = container.get("envs") or {}
        if not isinstance(envs, dict) or not all(isinstance(v, str) for v in envs.values()):
            raise ManifestError(f"{where}: spec.container.envs must map names to strings")
        _io(doc["spec"], "inputs", where)
        _io(doc["spec"], "outputs", where)
        components[meta["guid"]] = doc
    meta = pipeline["metadata"]
    for key in ("identifier", "version", "provider"):
        if not meta.get(key):
            raise ManifestError(f"the pipeline's metadata.{key} is required")
    if str(meta["provider"]) not in (account_id, "PAI"):
        raise ManifestError(f"provider {meta['provider']!r} is neither your account id nor PAI")
    pipeline_inputs = _io(pipeline["spec"], "inputs", "pipeline")
    _io(pipeline["spec"], "outputs", "pipeline")
    steps = pipeline["spec"].get("pipelines")
    if not isinstance(steps, list) or not steps:
        raise ManifestError("the pipeline's spec.pipelines lists no step")
    by_name: dict[str, dict[str, Any]] = {}
    for step in steps:
        name = (step.get("metadata") or {}).get("name")
        if not name:
            raise ManifestError("every step needs metadata.name")
        if name in by_name:
            raise ManifestError(f"step name {name!r} is used twice")
        by_name[name] = step
    declared: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name, step in by_name.items():
        guid = step["metadata"].get("guid")
        if guid:
            if guid not in components:
                raise ManifestError(f"step {name!r} names component guid {guid}, which the manifest does not hold")
            comp = components[guid]["spec"]
        elif all(step["metadata"].get(k) for k in ("identifier", "provider", "version")):
            comp = {}  # a registered component: the fake knows none of PAI's, so its inputs are not checked
        else:
            raise ManifestError(f"step {name!r} names no component (guid, or identifier/provider/version)")
        declared[name] = (_io(comp, "inputs", f"step {name!r}"), _io(comp, "outputs", f"step {name!r}"))
    for name, step in by_name.items():
        spec = step.get("spec") or {}
        deps = spec.get("dependencies") or []
        for dep in deps:
            if dep not in by_name:
                raise ManifestError(f"step {name!r} depends on {dep!r}, which is not a step of this pipeline")
        inputs, _ = declared[name]
        arguments = spec.get("arguments") or {}
        for kind in ("parameters", "artifacts"):
            for arg in arguments.get(kind) or []:
                arg_name = arg.get("name")
                if step["metadata"].get("guid") and (arg_name not in inputs or inputs[arg_name]["_kind"] != kind):
                    raise ManifestError(
                        f"step {name!r} assigns {kind[:-1]} {arg_name!r}, which its component does not take"
                    )
                if "from" in arg:
                    _check_ref(arg["from"], name, deps, declared, pipeline_inputs)
        if "when" in spec:
            m = _WHEN.match(str(spec["when"]).strip())
            if not m:
                raise ManifestError(
                    f"step {name!r}: when {spec['when']!r} is not '{{{{parameter}}}} <op> <value>'"
                )
            _check_ref(m.group(1), name, deps, declared, pipeline_inputs)
    _topo(by_name)
    return pipeline


def _check_ref(
    ref: str,
    step: str,
    deps: list[str],
    declared: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    pipeline_inputs: dict[str, dict[str, Any]],
) -> None:
    m = _REF.match(str(ref))
    if not m:
        raise ManifestError(
            f"step {step!r}: reference {ref!r} is not {{{{pipelines.<step>.outputs.<kind>.<name>}}}}"
        )
    _, source, side, kind, name = m.groups()
    if source is None:
        if side != "inputs" or name not in pipeline_inputs:
            raise ManifestError(f"step {step!r}: {ref} names no input of the pipeline")
        return
    if source not in declared:
        raise ManifestError(f"step {step!r}: {ref} names the unknown step {source!r}")
    if source not in deps:
        raise ManifestError(f"step {step!r}: {ref} reads step {source!r} without depending on it")
    items = declared[source][1 if side == "outputs" else 0]
    if items and (name not in items or items[name]["_kind"] != kind):
        raise ManifestError(f"step {step!r}: step {source!r} has no {side[:-1]} {kind[:-1]} {name!r}")


def _topo(steps: dict[str, dict[str, Any]]) -> list[str]:
    done: list[str] = []
    remaining = dict(steps)
    while remaining:
        ready = [
            n
            for n, s in remaining.items()
            if all(d in done for d in (s.get("spec") or {}).get("dependencies") or [])
        ]
        if not ready:
            raise ManifestError(f"the steps {sorted(remaining)} depend on each other in a cycle")
        for n in sorted(ready):
            done.append(n)
            del remaining[n]
    return done


@dataclass
class Run:
    run_id: str
    name: str
    pipeline_id: str | None
    manifest: str
    arguments: str | None
    workspace_id: str
    created: float
    source_type: str | None = None
    source_id: str | None = None
    status: str = "Initialized"
    started: float | None = None
    finished: float | None = None
    message: str = ""
    nodes: dict[str, str] = field(default_factory=dict)  # step -> state, once played out
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> output parameters written


class FakePaiflow(FakeServer):
    name = "fake-paiflow"

    def __init__(self, account_id: str = ACCOUNT_ID) -> None:
        super().__init__()
        self.account_id = account_id
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, Run] = {}
        self.errors: list[str] = []

    # -- routing -------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        bad = check_acs_request(req, (VERSION, STS_VERSION))
        if bad:
            return bad
        version = req.headers["x-acs-version"]
        action = req.headers["x-acs-action"]
        if version == STS_VERSION:
            if action == "GetCallerIdentity" and req.method == "POST" and req.path == "/":
                return json_response(
                    {
                        "AccountId": self.account_id,
                        "Arn": f"acs:ram::{self.account_id}:user/pai-jupyter",
                        "IdentityType": "RAMUser",
                        "PrincipalId": "pai-jupyter",
                        "UserId": "pai-jupyter",
                        "RequestId": request_id(),
                    }
                )
            return acs_error(404, "InvalidAction.NotFound", f"no STS action {action}")
        routes: list[tuple[str, str, str]] = [
            ("POST", r"/api/v1/pipelines", "CreatePipeline"),
            ("GET", r"/api/v1/pipelines", "ListPipelines"),
            ("GET", r"/api/v1/pipelines/([^/]+)", "GetPipeline"),
            ("PUT", r"/api/v1/pipelines/([^/]+)", "UpdatePipeline"),
            ("DELETE", r"/api/v1/pipelines/([^/]+)", "DeletePipeline"),
            ("POST", r"/api/v1/pipelineruns", "CreatePipelineRun"),
            ("GET", r"/api/v1/pipelineruns", "ListPipelineRuns"),
            ("GET", r"/api/v1/pipelineruns/([^/]+)", "GetPipelineRun"),
            ("GET", r"/api/v1/pipelineruns/([^/]+)/nodes/([^/]+)/status", "ListPipelineRunNodeStatus"),
            ("GET", r"/api/v1/pipelineruns/([^/]+)/nodes/([^/]+)/outputs", "ListPipelineRunNodeOutputs"),
            ("PUT", r"/api/v1/pipelineruns/([^/]+)/start", "StartPipelineRun"),
            ("PUT", r"/api/v1/pipelineruns/([^/]+)/termination", "TerminatePipelineRun"),
        ]
        for method, pattern, name in routes:
            m = re.fullmatch(pattern, req.path)
            if req.method == method and m:
                if action != name:
                    return acs_error(400, "InvalidAction", f"action {action} does not match {method} {req.path}")
                problem = self._check_keys(name, req)
                if problem:
                    return problem
                with self.lock:
                    return getattr(self, "do_" + name)(req, *m.groups())
        return acs_error(404, "InvalidAction.NotFound", f"no route {req.method} {req.path}")

    def _check_keys(self, action: str, req: Request) -> Response | None:
        if action in QUERY_KEYS:
            unknown = set(req.query) - QUERY_KEYS[action]
            if unknown:
                self.errors.append(f"{action}: undocumented query key(s) {sorted(unknown)}")
                return acs_error(400, "InvalidParameter", f"unknown parameter(s) {sorted(unknown)}")
        if action in BODY_KEYS:
            body = req.json
            if not isinstance(body, dict):
                return acs_error(400, "InvalidParameter", "the body must be a JSON object")
            unknown = set(body) - BODY_KEYS[action]
            if unknown:
                self.errors.append(f"{action}: undocumented body key(s) {sorted(unknown)}")
                return acs_error(400, "InvalidParameter", f"unknown parameter(s) {sorted(unknown)}")
        return None

    # -- pipelines -----------------------------------------------------------------------
    def _pipeline_json(self, p: dict[str, Any], with_manifest: bool) -> dict[str, Any]:
        out = {k: v for k, v in p.items() if k in PIPELINE_FIELDS and (with_manifest or k != "Manifest")}
        return out

    def do_CreatePipeline(self, req: Request) -> Response:
        body = req.json
        if not body.get("Manifest"):
            return acs_error(400, "MissingParameter", "Manifest is required")
        if not body.get("WorkspaceId"):
            return acs_error(400, "MissingParameter", "WorkspaceId is required")
        try:
            doc = parse_manifest(body["Manifest"], self.account_id)
        except ManifestError as exc:
            return acs_error(400, "InvalidManifest", str(exc))
        meta = doc["metadata"]
        identity = (str(meta["identifier"]), str(meta["provider"]), str(meta["version"]))
        for p in self.pipelines.values():  # identifier + provider + version locate one pipeline (manifest page)
            if (p["Identifier"], p["Provider"], p["Version"]) == identity and p["WorkspaceId"] == body[
                "WorkspaceId"
            ]:
                return acs_error(
                    409,
                    "PipelineAlreadyExists",
                    f"pipeline {identity[0]} {identity[2]} exists as {p['PipelineId']}",
                )
        now = iso(time.time())
        pid = "flow-" + secrets.token_hex(8)
        self.pipelines[pid] = {
            "PipelineId": pid,
            "Identifier": identity[0],
            "Provider": identity[1],
            "Version": identity[2],
            "Uuid": secrets.token_hex(16),
            "WorkspaceId": body["WorkspaceId"],
            "Manifest": body["Manifest"],
            "GmtCreateTime": now,
            "GmtModifiedTime": now,
        }
        return json_response({"PipelineId": pid, "RequestId": request_id()})

    def do_UpdatePipeline(self, req: Request, pid: str) -> Response:
        p = self.pipelines.get(pid)
        if p is None:
            return acs_error(404, "PipelineNotFound", f"pipeline {pid} does not exist")
        manifest = req.json.get("Manifest")
        if not manifest:
            return acs_error(400, "MissingParameter", "Manifest is required")
        try:
            doc = parse_manifest(manifest, self.account_id)
        except ManifestError as exc:
            return acs_error(400, "InvalidManifest", str(exc))
        meta = doc["metadata"]
        if (str(meta["identifier"]), str(meta["version"])) != (p["Identifier"], p["Version"]):
            return acs_error(
                400, "InvalidManifest", "an update may not change the pipeline's identifier or version"
            )
        p.update(Manifest=manifest, GmtModifiedTime=iso(time.time()))
        return json_response({"RequestId": request_id()})

    def do_GetPipeline(self, req: Request, pid: str) -> Response:
        p = self.pipelines.get(pid)
        if p is None:
            return acs_error(404, "PipelineNotFound", f"pipeline {pid} does not exist")
        return json_response({**self._pipeline_json(p, True), "RequestId": request_id()})

    def do_DeletePipeline(self, req: Request, pid: str) -> Response:
        if self.pipelines.pop(pid, None) is None:
            return acs_error(404, "PipelineNotFound", f"pipeline {pid} does not exist")
        return json_response({"RequestId": request_id()})

    def do_ListPipelines(self, req: Request) -> Response:
        q = req.query
        out = [
            p
            for p in self.pipelines.values()
            if (not q.get("WorkspaceId") or p["WorkspaceId"] == q["WorkspaceId"])
            and (not q.get("PipelineIdentifier") or p["Identifier"] == q["PipelineIdentifier"])
            and (not q.get("PipelineProvider") or p["Provider"] == q["PipelineProvider"])
            and (not q.get("PipelineVersion") or p["Version"] == q["PipelineVersion"])
        ]
        return _page(q, "Pipelines", out, lambda p: self._pipeline_json(p, False))

    # -- runs ----------------------------------------------------------------------------
    def do_CreatePipelineRun(self, req: Request) -> Response:
        body = req.json
        pid, manifest = body.get("PipelineId"), body.get("PipelineManifest")
        if not pid and not manifest:
            return acs_error(400, "MissingParameter", "PipelineId or PipelineManifest is required")
        if pid and manifest:
            return acs_error(400, "InvalidParameter", "give PipelineId or PipelineManifest, not both")
        if pid:
            p = self.pipelines.get(pid)
            if p is None:
                return acs_error(404, "PipelineNotFound", f"pipeline {pid} does not exist")
            manifest = p["Manifest"]
        try:
            doc = parse_manifest(manifest, self.account_id)
            self._check_arguments(doc, body.get("Arguments"))
        except ManifestError as exc:
            return acs_error(400, "InvalidManifest", str(exc))
        now = time.time()
        run = Run(
            run_id="flow-run-" + secrets.token_hex(8),
            name=body.get("Name") or f"run-{secrets.token_hex(4)}",
            pipeline_id=pid,
            manifest=manifest,
            arguments=body.get("Arguments"),
            workspace_id=body.get("WorkspaceId") or "",
            created=now,
            source_type=body.get("SourceType"),
            source_id=body.get("SourceId"),
        )
        if body.get("NoConfirmRequired"):
            run.status, run.started = "Running", now
        self.runs[run.run_id] = run
        return json_response({"PipelineRunId": run.run_id, "RequestId": request_id()})

    def _check_arguments(self, doc: dict[str, Any], arguments: str | None) -> None:
        given: dict[str, Any] = {}
        if arguments:
            try:
                parsed = yaml.safe_load(arguments)
            except yaml.YAMLError:
                raise ManifestError("Arguments is not YAML") from None
            if not isinstance(parsed, dict) or set(parsed) - {"arguments", "env"}:
                raise ManifestError("Arguments must be {arguments: {parameters, artifacts}, env}")
            for item in ((parsed.get("arguments") or {}).get("parameters")) or []:
                given[item.get("name")] = item.get("value")
        inputs = _io(doc["spec"], "inputs", "pipeline")
        for name in given:
            if name not in inputs:
                raise ManifestError(f"argument {name!r} is not an input of the pipeline")
        for name, item in inputs.items():
            if item["_kind"] == "parameters" and item.get("value") is None and name not in given:
                raise ManifestError(f"the pipeline input {name!r} has no default and no argument")

    def _run_json(self, run: Run, fields: set[str]) -> dict[str, Any]:
        duration = None
        if run.started is not None:
            duration = int((run.finished or time.time()) - run.started)
        data = {
            "PipelineRunId": run.run_id,
            "Name": run.name,
            "PipelineId": run.pipeline_id,
            "WorkspaceId": run.workspace_id,
            "Status": run.status,
            "Message": run.message,
            "NodeId": f"node-{run.run_id}",
            "SourceType": run.source_type,
            "SourceId": run.source_id,
            "UserId": self.account_id,
            "ParentUserId": self.account_id,
            "Accessibility": "PRIVATE",
            "GmtCreateTime": iso(run.created),
            "GmtModifiedTime": iso(run.finished or run.started or run.created),
            "StartedAt": iso(run.started),
            "FinishedAt": iso(run.finished),
            "Duration": duration,
            "Manifest": run.manifest,
            "Arguments": run.arguments,
        }
        return {k: v for k, v in data.items() if k in fields and v is not None}

    def do_GetPipelineRun(self, req: Request, run_id: str) -> Response:
        run = self.runs.get(run_id)
        if run is None:
            return acs_error(404, "PipelineRunNotFound", f"pipeline run {run_id} does not exist")
        return json_response({**self._run_json(run, RUN_FIELDS), "RequestId": request_id()})

    def do_ListPipelineRuns(self, req: Request) -> Response:
        q = req.query
        ids = {i for i in (q.get("PipelineIds") or "").split(",") if i}
        out = [
            r
            for r in sorted(self.runs.values(), key=lambda r: r.created, reverse=True)
            if (not ids or r.pipeline_id in ids)
            and (not q.get("Status") or r.status == q["Status"])
            and (not q.get("Name") or q["Name"] in r.name)
            and (not q.get("PipelineRunId") or r.run_id == q["PipelineRunId"])
            and (not q.get("WorkspaceId") or r.workspace_id == q["WorkspaceId"])
        ]
        return _page(q, "PipelineRuns", out, lambda r: self._run_json(r, LIST_RUN_FIELDS))

    def do_ListPipelineRunNodeStatus(self, req: Request, run_id: str, node_id: str) -> Response:
        """The run's root node (``NodeId`` of GetPipelineRun) and, below it, one node per step:
        ``Running`` while the run runs, then what ``finish_run`` played out."""
        run = self.runs.get(run_id)
        if run is None:
            return acs_error(404, "PipelineRunNotFound", f"pipeline run {run_id} does not exist")
        root = f"node-{run.run_id}"
        if node_id != root:
            return acs_error(404, "NodeNotFound", f"node {node_id} is not a node of run {run_id}")
        doc = parse_manifest(run.manifest, self.account_id)
        items = [{"NodeId": root, "NodeName": run.name, "Status": run.status}]
        for step in doc["spec"]["pipelines"]:
            name = step["metadata"]["name"]
            status = run.nodes.get(name) or ("Running" if run.status == "Running" else run.status)
            items.append({"NodeId": f"{root}-{name}", "NodeName": name, "Status": status})
        for item in items:
            item["StartedAt"] = iso(run.started)
            item["FinishedAt"] = iso(run.finished)
        shaped = [{k: v for k, v in i.items() if k in NODE_STATUS_FIELDS and v is not None} for i in items]
        return json_response({"Status": shaped, "RequestId": request_id()})

    def do_ListPipelineRunNodeOutputs(self, req: Request, run_id: str, node_id: str) -> Response:
        """A step node's output parameters, in the shape ``ArchivedArtifact.deserialize`` reads
        (``Name``, ``Type``, ``Producer``, ``Id``, ``Info: {value, metadata}``; pai/pipeline/artifact.py),
        filtered by ``Name``; only what the step declared and wrote."""
        run = self.runs.get(run_id)
        if run is None:
            return acs_error(404, "PipelineRunNotFound", f"pipeline run {run_id} does not exist")
        step = node_id.removeprefix(f"node-{run.run_id}-")
        if step == node_id or step not in run.nodes:
            return acs_error(404, "NodeNotFound", f"node {node_id} is not a step node of run {run_id}")
        doc = parse_manifest(run.manifest, self.account_id)
        guid = next(s["metadata"].get("guid") for s in doc["spec"]["pipelines"] if s["metadata"]["name"] == step)
        components = {d["metadata"].get("guid"): d for d in manifest_documents(run.manifest)[:-1]}
        declared = {
            p["name"]: p.get("type")
            for p in ((components.get(guid) or {}).get("spec", {}).get("outputs", {}).get("parameters") or [])
        }
        items = [
            {
                "Id": f"artifact-{run.run_id}-{step}-{name}",
                "Name": name,
                "NodeId": node_id,
                "Producer": step,
                "Type": declared[name],
                "Info": {"value": value, "metadata": {"path": f"/pai/outputs/parameters/{name}"}},
                "GmtCreateTime": iso(run.finished),
            }
            for name, value in (run.outputs.get(step) or {}).items()
            if name in declared and (not req.query.get("Name") or req.query["Name"] == name)
        ]
        shaped = [{k: v for k, v in i.items() if k in NODE_OUTPUT_FIELDS and v is not None} for i in items]
        return json_response({"Outputs": shaped, "TotalCount": len(shaped), "RequestId": request_id()})

    def do_StartPipelineRun(self, req: Request, run_id: str) -> Response:
        run = self.runs.get(run_id)
        if run is None:
            return acs_error(404, "PipelineRunNotFound", f"pipeline run {run_id} does not exist")
        if run.status != "Initialized":
            return acs_error(400, "InvalidStatus", f"run {run_id} is {run.status}, not Initialized")
        run.status, run.started = "Running", time.time()
        return json_response({"RequestId": request_id()})

    def do_TerminatePipelineRun(self, req: Request, run_id: str) -> Response:
        run = self.runs.get(run_id)
        if run is None:
            return acs_error(404, "PipelineRunNotFound", f"pipeline run {run_id} does not exist")
        if run.status not in TERMINAL_STATES:
            run.status, run.finished = "Terminated", time.time()
        return json_response({"RequestId": request_id()})

    # -- playing a run out ---------------------------------------------------------------
    def finish_run(self, run_id: str, outputs: dict[str, dict[str, str]] | None = None, fail: str = "") -> Run:
        """End a running run: steps succeed in order (``fail`` names one that fails); a step
        whose ``when`` is false, and every step after it, is Skipped. ``outputs`` gives the
        output parameters steps wrote (``/pai/outputs/parameters/<name>``)."""
        outputs = outputs or {}
        with self.lock:
            run = self.runs[run_id]
            doc = parse_manifest(run.manifest, self.account_id)
            steps = {s["metadata"]["name"]: s for s in doc["spec"]["pipelines"]}
            for name in _topo(steps):
                spec = steps[name].get("spec") or {}
                deps = spec.get("dependencies") or []
                if any(run.nodes.get(d) != "Succeeded" for d in deps):
                    run.nodes[name] = "Skipped"
                    continue
                if "when" in spec and not _when_holds(str(spec["when"]), outputs):
                    run.nodes[name] = "Skipped"
                    continue
                run.nodes[name] = "Failed" if name == fail else "Succeeded"
                if name in outputs:
                    run.outputs[name] = dict(outputs[name])
            run.status = "Failed" if fail else "Succeeded"
            run.message = f"step {fail} failed" if fail else ""
            run.finished = time.time()
            return run


def _page(query: dict[str, str], key: str, items: list[Any], shape: Any) -> Response:
    """One page (``PageNumber`` from 1, ``PageSize`` default 20) as ``{key: [...], TotalCount}``."""
    page, size = int(query.get("PageNumber") or 1), int(query.get("PageSize") or 20)
    chosen = items[(page - 1) * size : page * size]
    return json_response({key: [shape(i) for i in chosen], "TotalCount": len(items), "RequestId": request_id()})


def _when_holds(when: str, outputs: dict[str, dict[str, str]]) -> bool:
    m = _WHEN.match(when.strip())
    assert m is not None
    ref = _REF.match(m.group(1))
    assert ref is not None
    value = outputs.get(ref.group(2) or "", {}).get(ref.group(5))
    right = m.group(3).strip().strip("\"'")
    op = m.group(2)
    if value is None:
        return False
    try:
        a: Any = float(value)
        b: Any = float(right)
    except ValueError:
        a, b = str(value), right
    return bool({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def manifest_documents(text: str) -> list[dict[str, Any]]:
    """The documents of a manifest, for tests that look inside one."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


__all__ = ["ACCOUNT_ID", "FakePaiflow", "ManifestError", "json", "manifest_documents", "parse_manifest"]
