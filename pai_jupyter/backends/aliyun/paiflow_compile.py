"""A ``PipelineSpec`` as a PAIFlow manifest, in the format the PAI SDK's ``pai.pipeline`` writes.

Sources: ``Pipeline.to_dict`` / ``to_manifest`` (pai/pipeline/core.py: the unregistered components
first, the pipeline last, as YAML documents), ``ContainerComponent.to_dict``
(pai/pipeline/component/_container.py: ``spec.container`` = ``image``, ``command``, ``envs``,
``imageRegistryConfig``), ``PipelineStep.to_dict`` / ``ConditionStep.to_dict`` (pai/pipeline/step.py:
``metadata.{name,guid}``, ``spec.arguments``, ``spec.dependencies``, ``spec.when``),
``PipelineArtifact`` / ``LocationArtifactMetadata`` / ``OSSArtifact`` (pai/pipeline/types/artifact.py)
and the manifest page ("PAI-Flow manifest parameters",
https://www.alibabacloud.com/help/en/pai/developer-reference/pipeline-manifest: ``apiVersion: core/v1``;
``identifier``, ``version``, ``provider`` required on the pipeline).

How each step is expressed:

- ``preprocess`` / ``train`` / ``eval``: a custom-image container component (the job's image,
  resolved as DLC resolves it) whose command runs the step's entry script the way a DLC job does.
  Its inputs are OSS artifacts (``DataSet`` / ``Model``, ``locationType: OSS``): the code snapshot,
  the pai-jupyter runtime, ``--data`` folders (fixed values) and other steps' outputs (``from``
  references, which also order the steps). Its output is one OSS artifact ``output``
  (``train.model`` and ``train.output`` are the same folder, as in ``PipelineSpec``). The job sees
  the same ``PAI_INPUT_<CHANNEL>`` / ``PAI_OUTPUT_MODEL`` / ``PAI_WORKING_DIR`` variables as on DLC
  (``JobSpec.pai_envs``), pointing at the artifacts (``{{inputs.artifacts.<name>}}``, the
  placeholder form of ``PipelineVariable.enclosed_fullname``).
- the gate: PAIFlow has conditions (``ConditionStep``, ``when: "{{...}} <op> <value>"``), but one
  comparison only, while a gate is an expression over two sets of figures. So the eval step
  evaluates the gate itself after its script (``python -m pai_jupyter.backends.aliyun.paiflow_steps gate``)
  and writes the output parameter ``gate`` (``pass`` / ``fail``) to
  ``/pai/outputs/parameters/gate`` (how a container writes an output parameter in the PAI SDK's
  tests/integration/tests_pipeline/test_conidition_pipeline.py); each deploy step after it is a
  condition step ``when: {{pipelines.<eval>.outputs.parameters.gate}} == pass``, so a failed gate
  skips the deploy and nothing is rolled out. The decision with its figures goes out too (output
  parameter ``gate_decision``), read back for the run views (ListPipelineRunNodeOutputs) and fed to
  the deploy step as an input parameter for the deployment record lineage reads.
- ``deploy``: a container step in the pai-jupyter runtime image that calls PAI-EAS through the
  aliyun backend (``paiflow_steps deploy``): the same gated blue-green rollout as ``%pai_deploy``.

What PAIFlow cannot express is refused when the pipeline is registered (``check_expressible``):
PAIFlow 2021-02-02 has no schedule or trigger operation (the 18 operations of
``alibabacloud_paiflow20210202/client.py`` are pipelines, runs and nodes only; PAI documents
scheduling a pipeline through DataWorks, "Schedule a PAI Designer pipeline with DataWorks"), so
cron and ``oss://`` triggers have no server-side form.
"""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass
from typing import Any

from ...errors import ValidationError
from ...specs.job import SHARED_POOL, JobLocations, JobSpec
from ...specs.pipeline import ArtefactRef, CronTrigger, OssTrigger, PipelineSpec, StepSpec
from ...storage.uri import OssUri

API_VERSION = "core/v1"  # the only manifest schema version (manifest page)
GATE_PARAMETER = "gate"
DECISION_PARAMETER = "gate_decision"  # the decision with its figures (JSON), for the run's views
GATE_PASSED = "pass"
GATE_FAILED = "fail"
OUTPUT = "output"
CODE = "code"
RUNTIME = "pai_jupyter_runtime"
OUTPUT_PARAMETERS = "/pai/outputs/parameters"  # test_conidition_pipeline.py in the PAI SDK
STEPS_MODULE = "pai_jupyter.backends.aliyun.paiflow_steps"
# DataType per step kind (pai/pipeline/types/artifact.py DataType).
OUTPUT_TYPES = {"preprocess": "DataSet", "train": "Model", "eval": "ModelEvaluation"}

SCHEDULE_HINT = (
    "PAIFlow has no schedule API: drop the cron trigger here and schedule the registered pipeline from "
    "DataWorks (a PAI Designer node, see 'Schedule a PAI Designer pipeline with DataWorks'), or keep the "
    "pipeline on the local backend, whose control plane runs the schedule"
)
OSS_TRIGGER_HINT = (
    "PAIFlow has no trigger on new OSS objects: drop the oss:// trigger here and start runs with "
    "`jupyter pai pipelines run NAME` (e.g. from an OSS event notification through Function Compute), "
    "or keep the pipeline on the local backend, whose control plane watches the prefix"
)


@dataclass(frozen=True)
class StepPlacement:
    """Where a job step's things are on OSS and which image runs it (resolved by the backend)."""

    image: str
    code_uri: str


@dataclass(frozen=True)
class CompiledPipeline:
    identifier: str
    version: str
    provider: str
    documents: tuple[dict[str, Any], ...]

    @property
    def manifest(self) -> str:
        """The manifest text: one YAML document per component, the pipeline last (JSON is YAML)."""
        return "\n---\n".join(json.dumps(d, indent=1, sort_keys=True) for d in self.documents) + "\n"

    @property
    def pipeline(self) -> dict[str, Any]:
        return self.documents[-1]


def check_expressible(spec: PipelineSpec) -> None:
    """ValidationError (one line, naming the alternative) for what PAIFlow cannot run server-side."""
    for trigger in spec.triggers:
        if isinstance(trigger, CronTrigger):
            raise ValidationError(
                f"pipeline {spec.name}: the schedule {trigger.schedule!r} cannot run on PAI Pipelines",
                SCHEDULE_HINT,
            )
        if isinstance(trigger, OssTrigger):
            raise ValidationError(
                f"pipeline {spec.name}: the trigger on {trigger.prefix} cannot run on PAI Pipelines",
                OSS_TRIGGER_HINT,
            )
    for step in spec.steps:
        if not step.is_job or step.job is None:
            continue
        job = step.job
        # A container component (ContainerComponent.to_dict) has an image, a command and envs: no
        # replica count, machine, GPU, spot bid, quota or read-write mount for checkpoints.
        unexpressible = [
            (job.workers > 1, f"{job.workers} workers", "workers=1"),
            (bool(job.instance_type), f"instance type {job.instance_type}", "instance_type"),
            (bool(job.gpu_count or job.gpu_type), "GPUs", "gpu"),
            (job.spot, "a spot instance", "spot"),
            (job.resource_group != SHARED_POOL, f"the quota {job.resource_group}", "resource_group"),
            (bool(job.checkpoint), "a checkpoint folder", "checkpoint"),
        ]
        for present, what, option in unexpressible:
            if present:
                raise ValidationError(
                    f"pipeline {spec.name}, step {step.name!r}: {what} cannot be given to a PAIFlow container step",
                    f"drop {option} from the step (it runs in one container of the workspace's default resources), "
                    "or keep the pipeline on the local backend",
                )


def identifier(spec: PipelineSpec) -> str:
    return f"pai-jupyter-{spec.name}"


def _guid(spec: PipelineSpec, step: str) -> str:
    # Stable across registrations of the same definition, so an update does not churn ids.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"pai-jupyter/pipelines/{spec.name}/{step}").hex


def oss_value(uri: str, region: str) -> str:
    """An OSS URI as an artifact value: ``OSSArtifact.to_dict`` JSON, keys sorted as
    ``PipelineArtifact._translate_value`` dumps it; the endpoint defaults to the region's internal one."""
    parsed = OssUri.parse(uri)
    key = parsed.key + ("/" if uri.endswith("/") and not parsed.key.endswith("/") else "")  # a folder stays one
    location = {
        "bucket": parsed.bucket,
        "endpoint": parsed.endpoint or f"oss-{region}-internal.aliyuncs.com",
        "key": key,
    }
    return json.dumps({"location": location}, sort_keys=True)


def _artifact(name: str, data_type: str, **extra: Any) -> dict[str, Any]:
    # PipelineArtifact.to_dict: name, metadata {type: {DataType: {locationType}}}, required.
    return {"name": name, "metadata": {"type": {data_type: {"locationType": "OSS"}}}, "required": False, **extra}


def _ref(step: str, kind: str, name: str) -> str:
    return "{{" + f"pipelines.{step}.outputs.{kind}.{name}" + "}}"  # PipelineVariable.enclosed_fullname


def _input(name: str) -> str:
    return "{{" + f"inputs.artifacts.{name}" + "}}"


def _output(name: str) -> str:
    return "{{" + f"outputs.artifacts.{name}" + "}}"


def _source_artifact(spec: PipelineSpec, ref: ArtefactRef) -> str:
    other = spec.step(ref.step)
    if other.kind == "deploy":
        raise ValidationError(f"pipeline {spec.name}: {ref} is not a folder a step can read")
    return _ref(ref.step, "artifacts", OUTPUT)  # model and output are the same folder


def _job_component(
    spec: PipelineSpec, step: StepSpec, placement: StepPlacement, runtime_uri: str, region: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container component of a job step, and the step's arguments."""
    job: JobSpec = step.job  # type: ignore[assignment]
    inputs = [_artifact(CODE, "DataSet"), _artifact(RUNTIME, "DataSet")]
    arguments: list[dict[str, Any]] = [
        {"name": CODE, "value": oss_value(placement.code_uri, region)},
        {"name": RUNTIME, "value": oss_value(runtime_uri, region)},
    ]
    channels: dict[str, str] = {}
    for item in job.inputs:  # --data folders: fixed OSS values
        inputs.append(_artifact(item.channel, "DataSet"))
        arguments.append({"name": item.channel, "value": oss_value(item.uri, region)})
        channels[item.channel] = _input(item.channel)
    for channel, value in step.inputs.items():
        ref = ArtefactRef.parse(value)
        data_type = "Model" if ref is not None and ref.artefact == "model" else "DataSet"
        inputs.append(_artifact(channel, data_type))
        if ref is None:
            arguments.append({"name": channel, "value": oss_value(value, region)})
        else:
            arguments.append({"name": channel, "from": _source_artifact(spec, ref)})
        channels[channel] = _input(channel)
    working_dir = f"{_input(CODE)}/{job.workdir}".rstrip("/")
    envs = job.pai_envs(
        attempt=1,
        locations=JobLocations(inputs=channels, model=_output(OUTPUT), checkpoints=None, working_dir=working_dir),
    )
    envs.update(job.env)  # the user's env wins, as on DLC
    envs["PYTHONPATH"] = _input(RUNTIME)
    envs["PAI_METRICS_FILE"] = f"{_output(OUTPUT)}/.pai-jupyter/metrics/worker-{{rank}}.1.jsonl"
    script = " ".join(shlex.quote(p) for p in ["python", job.entry, *job.args])
    lines = ['mkdir -p "$PAI_OUTPUT_MODEL/.pai-jupyter/metrics"', f'cd "$PAI_WORKING_DIR" && {script}']
    outputs: dict[str, list[dict[str, Any]]] = {
        "parameters": [],
        "artifacts": [_artifact(OUTPUT, OUTPUT_TYPES[step.kind])],
    }
    if step.kind == "eval" and step.gate:
        service = spec.compare_service(step) or ""
        gate_args = [
            "python",
            "-m",
            STEPS_MODULE,
            "gate",
            "--gate",
            step.gate,
            "--output",
            "$PAI_OUTPUT_MODEL",
            "--metrics-file",
            step.metrics_file,
            "--serving",
            _serving_record(service, runtime_uri) if service else "",
            "--result",
            f"{OUTPUT_PARAMETERS}/{GATE_PARAMETER}",
            "--decision",
            f"{OUTPUT_PARAMETERS}/{DECISION_PARAMETER}",
        ]
        lines.append(f"mkdir -p {OUTPUT_PARAMETERS}")
        lines.append(_command_line(gate_args))
        outputs["parameters"].append({"name": GATE_PARAMETER, "type": "String"})
        outputs["parameters"].append({"name": DECISION_PARAMETER, "type": "String"})
    component = {
        "apiVersion": API_VERSION,
        "metadata": {"name": f"{spec.name}-{step.name}", "guid": _guid(spec, step.name)},
        "spec": {
            "inputs": {"parameters": [], "artifacts": inputs},
            "outputs": outputs,
            "container": {
                "image": placement.image,
                "command": ["bash", "-c", " && ".join(lines)],
                "envs": {k: str(v) for k, v in envs.items()},
                "imageRegistryConfig": {},
            },
        },
    }
    return component, {"parameters": [], "artifacts": arguments}


def _command_line(args: list[str]) -> str:
    """A shell line: ``$VAR`` arguments expand (quoted: an artifact may arrive as its location JSON),
    everything else is literal."""
    return " ".join(f'"{a}"' if a.startswith("$") else shlex.quote(a) for a in args)


def _serving_record(service: str, runtime_uri: str) -> str:
    """Where a deploy step records the figures of the version it rolled out (the next gate's
    ``serving.*``): beside the service's own state on OSS (``EasServing._state_uri``), so deleting
    the service forgets them and every pipeline deploying it reads the same."""
    bucket = OssUri.parse(runtime_uri).bucket
    return str(OssUri(bucket, f"pai-jupyter/services/{service}/serving-metrics.json"))


def _deploy_component(
    spec: PipelineSpec, step: StepSpec, image: str, runtime_uri: str, region: str, gate_step: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    model = step.inputs["model"]
    ref = ArtefactRef.parse(model)
    options = json.dumps(step.deploy.to_dict() if step.deploy else {}, sort_keys=True)
    args = [
        "python",
        "-m",
        STEPS_MODULE,
        "deploy",
        "--service",
        step.service or "",
        "--options",
        options,
        "--model",
        "$PAI_INPUT_MODEL",
        "--record",
        _serving_record(step.service or "", runtime_uri),
        "--pipeline",
        spec.name,
        "--step",
        step.name,
    ]
    envs = {"PYTHONPATH": _input(RUNTIME), "PAI_INPUT_MODEL": _input("model")}
    inputs = [_artifact(RUNTIME, "DataSet"), _artifact("model", "Model")]
    parameters: list[dict[str, Any]] = []
    parameter_args: list[dict[str, Any]] = []
    arguments: list[dict[str, Any]] = [{"name": RUNTIME, "value": oss_value(runtime_uri, region)}]
    if ref is None:
        arguments.append({"name": "model", "value": oss_value(model, region)})
    else:
        arguments.append({"name": "model", "from": _source_artifact(spec, ref)})
    if gate_step:  # the candidate's figures, recorded as the serving version's after the rollout
        args += ["--metrics", "$PAI_INPUT_METRICS", "--metrics-file", spec.step(gate_step).metrics_file]
        envs["PAI_INPUT_METRICS"] = _input("metrics")
        inputs.append(_artifact("metrics", "ModelEvaluation"))
        arguments.append({"name": "metrics", "from": _ref(gate_step, "artifacts", OUTPUT)})
        # The decision that let this deploy through, for the deployment record lineage reads: an input
        # parameter fed from the eval step's output parameter, in the container as an env
        # ("{{inputs.parameters.<name>}}", as the PAI SDK's test_conidition_pipeline.py uses it).
        args += ["--gate-decision", "$PAI_GATE_DECISION"]
        envs["PAI_GATE_DECISION"] = "{{" + f"inputs.parameters.{DECISION_PARAMETER}" + "}}"
        parameters.append({"name": DECISION_PARAMETER, "type": "String", "value": ""})
        parameter_args.append(
            {"name": DECISION_PARAMETER, "from": _ref(gate_step, "parameters", DECISION_PARAMETER)}
        )
    command = _command_line(args)
    component = {
        "apiVersion": API_VERSION,
        "metadata": {"name": f"{spec.name}-{step.name}", "guid": _guid(spec, step.name)},
        "spec": {
            "inputs": {"parameters": parameters, "artifacts": inputs},
            "outputs": {"parameters": [], "artifacts": []},
            "container": {
                "image": image,
                "command": ["bash", "-c", command],
                "envs": envs,
                "imageRegistryConfig": {},
            },
        },
    }
    return component, {"parameters": parameter_args, "artifacts": arguments}


def _gate_before(spec: PipelineSpec, step: StepSpec) -> str | None:
    """The eval step with a gate that this deploy step comes after (transitively), if any."""
    gates = [s.name for s in spec.steps if s.kind == "eval" and s.gate and step.name in spec.downstream(s.name)]
    return gates[-1] if gates else None


def compile_pipeline(
    spec: PipelineSpec,
    *,
    provider: str,
    placements: dict[str, StepPlacement],
    runtime_uri: str,
    deploy_image: str,
    region: str,
    version: str = "v1",
) -> CompiledPipeline:
    """The manifest of ``spec``. ``placements`` gives each job step's image and code snapshot;
    ``runtime_uri`` the pai-jupyter runtime folder on OSS; ``deploy_image`` the image deploy steps
    run in. Refuses what PAIFlow cannot express (``check_expressible``) first."""
    spec.validate()
    check_expressible(spec)
    components: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for step in spec.order():
        gate_step = None
        if step.is_job:
            placement = placements.get(step.name)
            if placement is None:
                raise ValidationError(f"pipeline {spec.name}, step {step.name!r} has no code snapshot on OSS yet")
            component, arguments = _job_component(spec, step, placement, runtime_uri, region)
        else:
            gate_step = _gate_before(spec, step)
            component, arguments = _deploy_component(spec, step, deploy_image, runtime_uri, region, gate_step)
        components.append(component)
        deps = list(step.dependencies())
        if gate_step and gate_step not in deps:
            deps.append(gate_step)
        body: dict[str, Any] = {"arguments": arguments}
        if deps:
            body["dependencies"] = deps
        if gate_step:
            # ConditionStep.to_dict: when = ConditionExpr.to_expr() ("{{...}} == pass").
            body["when"] = f"{_ref(gate_step, 'parameters', GATE_PARAMETER)} == {GATE_PASSED}"
        steps.append({"metadata": {"name": step.name, "guid": component["metadata"]["guid"]}, "spec": body})
    pipeline = {
        "apiVersion": API_VERSION,
        "metadata": {
            "name": spec.name,
            "guid": _guid(spec, ""),
            "identifier": identifier(spec),
            "version": version,
            "provider": provider,
        },
        "spec": {
            "inputs": {"parameters": [], "artifacts": []},
            "outputs": {"parameters": [], "artifacts": []},
            "pipelines": steps,
        },
    }
    return CompiledPipeline(identifier(spec), version, provider, (*components, pipeline))


__all__ = [
    "DECISION_PARAMETER",
    "GATE_FAILED",
    "GATE_PARAMETER",
    "GATE_PASSED",
    "CompiledPipeline",
    "StepPlacement",
    "check_expressible",
    "compile_pipeline",
    "identifier",
    "oss_value",
]
