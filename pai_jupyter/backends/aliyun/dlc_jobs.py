"""How a pai-jupyter job becomes DLC jobs, and how DLC's answers read back.

A *run folder* on OSS holds everything of one submission::

    <run>/code/               the code snapshot (mounted read-only at /ml/usercode)
    <run>/provenance.json     what the client captured
    <run>/job.json            the manifest: spec, outputs, every DLC attempt, our events
    <run>/metrics/worker-R.A.jsonl   report() values, written by the job itself
    <run>/attempts/N          claim markers, so one resubmission happens per reclaim
    <run>/environment.json    what the job runs with, recorded by rank 0 at start (record_env)
    <run>/env/requirements.txt  the pins, when they need another index (ThirdpartyLibDir)

The run folder is mounted read-write at ``RUN_MOUNT``; the pai-jupyter runtime
(the package's Python files, content-addressed on OSS) read-only at
``RUNTIME_MOUNT`` so ``from pai_jupyter import report`` works in any image.
The user command exports ``PAI_METRICS_FILE`` into the run folder (it needs
the pod's ``RANK``, known only in the pod) and then runs the spec's command.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from ...records import CREATING, FAILED, QUEUING, RESTARTING, RUNNING, STOPPED, STOPPING, SUCCEEDED
from ...specs.job import TENSORBOARD_MOUNT, JobSpec
from ...storage.uri import OssUri

RUN_MOUNT = "/ml/output/pai-jupyter"
RUNTIME_MOUNT = "/ml/pai-jupyter"
ENV_RUN = "PAI_JUPYTER_RUN"  # the run folder URI: how a DLC job leads back to its manifest
ENV_ROOT = "PAI_JUPYTER_ROOT_JOB"  # set on resubmissions: the id users hold
ENV_ATTEMPT = "PAI_JOB_ATTEMPT"
_PREFIX_END = " && : pai-jupyter && "  # marks where our wrapper ends and the spec's command starts
ENV_RECORD = "environment.json"  # in the run folder
REQUIREMENTS_DIR = "env"  # in the run folder: requirements.txt for ThirdpartyLibDir

# DLC status -> the contract's job state.
STATE_MAP = {
    "Creating": CREATING,
    "Queuing": QUEUING,
    "Bidding": QUEUING,
    "EnvPreparing": QUEUING,
    "SanityChecking": QUEUING,
    "Running": RUNNING,
    "Restarting": RESTARTING,
    "Stopping": STOPPING,
    "SucceededReserving": SUCCEEDED,
    "FailedReserving": FAILED,
    "Succeeded": SUCCEEDED,
    "Failed": FAILED,
    "Stopped": STOPPED,
}
PENDING = {"Creating", "Queuing", "Bidding", "EnvPreparing", "SanityChecking"}
FAILED_STATES = {"Failed", "FailedReserving"}
# What DLC shows when a spot instance was taken back: the pod SubStatus
# ``Evicted`` (documented); reason texts below are matched as a fallback.
RECLAIM_WORDS = ("evict", "preempt", "reclaim", "spotinstance", "spot instance")

# DLC metric type -> our system metric name. GetJobMetrics reports memory and GPU memory as
# utilisation percentages (pai-api.md section 9), so they are *_percent here, not the local
# backend's memory_mb / gpu_memory_mb.
SYSTEM_METRICS = {
    "CpuCoreUsage": "cpu_percent",
    "MemoryUsage": "memory_percent",
    "GpuCoreUsage": "gpu_util",
    "GpuMemoryUsage": "gpu_memory_percent",
}


def map_state(dlc_status: str, attempt: int) -> str:
    if attempt > 1 and dlc_status in PENDING:
        return RESTARTING  # a resubmitted attempt waiting for its instances
    return STATE_MAP.get(dlc_status, QUEUING)


def was_reclaimed(item: dict[str, Any]) -> bool:
    """True when a failed DLC job failed because its (spot) instances were taken."""
    if item.get("Status") not in FAILED_STATES:
        return False
    pods = item.get("Pods") or []
    # A reclaimed pod may be replaced: the evicted one then shows only under its successor's
    # HistoryPods (GetJobResponseBodyPodsHistoryPods in the SDK model _get_job_response_body.py).
    history = [h for p in pods for h in (p.get("HistoryPods") or [])]
    if any(str(p.get("SubStatus", "")).lower() == "evicted" for p in [*pods, *history]):
        return True
    text = f"{item.get('SubStatus', '')} {item.get('ReasonCode', '')} {item.get('ReasonMessage', '')}".lower()
    return any(word in text for word in RECLAIM_WORDS)


def run_outputs(spec: JobSpec, run: OssUri) -> dict[str, str]:
    model = OssUri.parse(spec.output).as_dir() if spec.output else run.join("model").as_dir()
    checkpoints = OssUri.parse(spec.checkpoint).as_dir() if spec.checkpoint else run.join("checkpoints").as_dir()
    return {
        "model": str(model),
        "checkpoints": str(checkpoints),
        # The SDK's third default output channel, "tensorboard" (pai/job/_training_job.py,
        # _default_training_output_channels), in the run folder.
        "tensorboard": str(run.join("tensorboard").as_dir()),
        "provenance": str(model.join("provenance.json")),
        "metrics": str(run.join("metrics").as_dir()),
        "run": str(run.as_dir()),
    }


def wrapper_prefix(autolog: bool = True) -> str:
    # {rank} is filled in by report() from RANK or TF_CONFIG (jobenv.worker_rank): TFJob pods get no RANK.
    metrics = f"{RUN_MOUNT}/metrics/worker-{{rank}}.${{{ENV_ATTEMPT}:-1}}.jsonl"
    # Autologging: the runtime's pai_jupyter/autolog/site/sitecustomize.py hooks the frameworks (--no-autolog: not).
    site = f"{RUNTIME_MOUNT}/pai_jupyter/autolog/site:" if autolog else ""
    # Rank 0 records what the job runs with (after DLC installed ThirdpartyLibs), never failing the job.
    record = f'{{ [ "${{RANK:-0}}" != 0 ] || python -m pai_jupyter.provenance.record_env {RUN_MOUNT}/{ENV_RECORD} || true; }}'
    return (
        f'export PYTHONPATH="{site}{RUNTIME_MOUNT}${{PYTHONPATH:+:$PYTHONPATH}}"'
        f' PAI_METRICS_FILE="{metrics}"'
        f' PAI_JOB_ID="${{{ENV_ROOT}:-$DLC_JOB_ID}}"'
        f" && mkdir -p {RUN_MOUNT}/metrics && {record}{_PREFIX_END}"
    )


def requirements_file(spec: JobSpec) -> bytes | None:
    """requirements.txt for pins that need another index (CUDA-tagged wheels), else None.

    ThirdpartyLibs is a plain list of libraries, with no place for pip options; ThirdpartyLibDir names a folder whose
    requirements.txt DLC installs with ``pip install -r`` before UserCommand on each node
    (CreateJobRequest.thirdparty_lib_dir, SDK model _create_job_request.py), and pip's
    requirements-file syntax carries ``--extra-index-url`` lines.
    """
    from ...provenance.imports import index_urls

    urls = index_urls(spec.requirements)
    if not urls:
        return None
    lines = [f"--extra-index-url {u}" for u in urls] + list(spec.requirements)
    return ("\n".join(lines) + "\n").encode()


def strip_wrapper(command: str) -> str:
    return command.split(_PREFIX_END, 1)[1] if _PREFIX_END in command else command


def mount_uri(uri: str, region: str) -> str:
    """An OSS URI as DLC mounts it: the bucket qualified with the region's internal endpoint
    (``oss://bucket.oss-<region>-internal.aliyuncs.com/key``), as the PAI SDK sends it
    (``patch_oss_endpoint`` in pai/common/oss_utils.py; pai-api.md section 9)."""
    if not uri.startswith("oss://"):
        return uri
    parsed = OssUri.parse(uri)
    endpoint = parsed.endpoint or f"oss-{region}-internal.aliyuncs.com"
    return f"oss://{parsed.bucket}.{endpoint}/{parsed.key}"


def rw_prefixes(body: dict[str, Any]) -> list[OssUri]:
    """The OSS folders a body mounts read-write (they must exist before the job starts)."""
    parsed = [
        OssUri.parse(s["Uri"])
        for s in body.get("DataSources") or []
        if s.get("MountAccess") == "RW" and str(s.get("Uri", "")).startswith("oss://")
    ]
    return [OssUri(p.bucket, p.key).as_dir() for p in parsed]  # written through the configured endpoint


def create_body(
    spec: JobSpec,
    code_uri: str,
    run: OssUri,
    runtime: OssUri,
    outputs: dict[str, str],
    region: str,
    workspace_id: str,
    attempt: int,
    root: str | None,
    image: str | None = None,
    input_files: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateJob body: ``JobSpec.to_dlc`` plus our mounts, wrapper and env.

    ``image`` is the one resolved from the workspace's image list when the spec names none.
    ``input_files`` (channel -> file name) names the inputs that are single OSS objects: JindoFuse
    mounts folders, so their folder is mounted and ``PAI_INPUT_<CHANNEL>`` names the file in it, as
    PAI's training service does (docs/source/user-guide/training/prepare-code.rst,
    ``PAI_INPUT_TEST=/ml/input/data/test/test.csv``; pai/job/_local_training_job.py, prepare_env).
    """
    effective = spec.with_changes(
        output=outputs["model"],
        checkpoint=outputs["checkpoints"],
        workspace_id=spec.workspace_id or workspace_id or None,
        image=spec.image or image,
    )
    body = effective.to_dlc(code_uri, region=region)
    body["UserCommand"] = wrapper_prefix(spec.autolog) + body["UserCommand"]
    if requirements_file(spec) is not None:  # written to <run>/env/ by the submit
        body.pop("ThirdpartyLibs", None)
        body["ThirdpartyLibDir"] = f"{RUN_MOUNT}/{REQUIREMENTS_DIR}/"
    body["DataSources"] = [
        *body.get("DataSources", []),
        {"Uri": str(run.as_dir()), "MountPath": RUN_MOUNT, "MountAccess": "RW"},
        {"Uri": str(runtime.as_dir()), "MountPath": RUNTIME_MOUNT, "MountAccess": "RO"},
    ]
    if outputs.get("tensorboard"):
        body["DataSources"].append(
            {"Uri": outputs["tensorboard"], "MountPath": TENSORBOARD_MOUNT, "MountAccess": "RW"}
        )
    envs = {**effective.pai_envs(attempt=attempt), **(body.get("Envs") or {})}  # the user's env wins, as in to_dlc
    if outputs.get("tensorboard"):
        envs.setdefault("PAI_OUTPUT_TENSORBOARD", TENSORBOARD_MOUNT)
    for item in effective.inputs:
        name = (input_files or {}).get(item.channel)
        if not name:
            continue
        for source in body["DataSources"]:
            if source["MountPath"] == item.effective_mount and source["Uri"] == item.uri:
                source["Uri"] = item.uri[: -len(name)]  # the object's folder, ending in "/"
        envs[f"PAI_INPUT_{item.channel.upper()}"] = f"{item.effective_mount.rstrip('/')}/{name}"
    envs[ENV_RUN] = str(run.as_dir())
    if root:
        envs[ENV_ROOT] = root
    rw = [s["MountPath"] for s in body["DataSources"] if s.get("MountAccess") == "RW"]
    envs["PAI_JUPYTER_OSS_MOUNTS"] = ":".join(rw)  # jobenv.on_oss_mount: no fsync there
    body["Envs"] = envs
    for source in body["DataSources"]:
        source["Uri"] = mount_uri(source["Uri"], region)
    # report() appends to its metrics file on the run folder's OSS mount: JindoFuse allows
    # appends only with EnableOssAppend (JobSettings in the SDK model _job_settings.py; section 9).
    body["Settings"] = {**(body.get("Settings") or {}), "EnableOssAppend": True}
    return body


def foreign_spec(item: dict[str, Any]) -> JobSpec:
    """A spec for a DLC job that pai-jupyter did not submit (or whose manifest is gone)."""
    body = {k: v for k, v in item.items() if v not in ("", None)}
    body["UserCommand"] = strip_wrapper(str(item.get("UserCommand") or ""))
    body["DataSources"] = [
        {**s, "Uri": str(OssUri.parse(s["Uri"])) if str(s.get("Uri", "")).startswith("oss://") else s.get("Uri")}
        for s in item.get("DataSources") or []
        if s.get("MountPath") not in (RUN_MOUNT, RUNTIME_MOUNT)
    ]
    ours = {
        ENV_RUN,
        ENV_ROOT,
        ENV_ATTEMPT,
        "PAI_FRAMEWORK",
        "PAI_JOB_NAME",
        "PAI_CHECKPOINT_INTERVAL",
        "PAI_JUPYTER_OSS_MOUNTS",
        "PAI_OUTPUT_TENSORBOARD",
    }
    body["Envs"] = {k: v for k, v in (item.get("Envs") or {}).items() if k not in ours}
    if not body.get("Priority"):
        body["Priority"] = 1
    if not body.get("JobMaxRunningTimeMinutes"):
        body.pop("JobMaxRunningTimeMinutes", None)
    try:
        return JobSpec.from_dlc(body)
    except Exception:
        return JobSpec(name=str(item.get("DisplayName") or item.get("JobId") or "job"))


def parse_time(value: Any) -> float | None:
    """DLC's ``Gmt*Time`` (ISO 8601, UTC) as epoch seconds."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def runtime_files() -> tuple[str, list[tuple[Path, str]]]:
    """The package's Python files (what a job imports) and a digest naming that set."""
    root = Path(__file__).resolve().parents[2]  # the pai_jupyter package
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts and "labextension" not in p.parts)
    digest = hashlib.sha256()
    out = []
    for path in files:
        rel = "pai_jupyter/" + path.relative_to(root).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes())
        out.append((path, rel))
    return digest.hexdigest()[:16], out
