"""The environment a local worker gets: DLC's contract plus PAI SDK locations.

A script written for PAI-DLC (PyTorchJob / TFJob) or for PAI's Python SDK
runs unchanged: the rendezvous variables are DLC's (``WORLD_SIZE`` counts
workers, ``RANK`` is the worker index), the locations are the SDK's
(``PAI_INPUT_<CHANNEL>``, ``PAI_OUTPUT_MODEL``, ``PAI_OUTPUT_CHECKPOINTS``,
``PAI_WORKING_DIR``), pointing at local folders instead of OSS mounts.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..specs.job import JobSpec
from .private import child_environ


def worker_env(
    *,
    spec: JobSpec,
    job_id: str,
    rank: int,
    master_port: int,
    worker_ports: list[int],
    inputs: dict[str, Path],
    output_dir: Path,
    checkpoint_dir: Path,
    working_dir: Path,
    metrics_file: Path,
    exit_file: Path,
    attempt: int,
) -> dict[str, str]:
    env = child_environ()
    env.update(spec.env)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PAI_JOB_ID": job_id,
            "PAI_JOB_NAME": spec.name,
            "PAI_JOB_ATTEMPT": str(attempt),
            "PAI_FRAMEWORK": spec.framework,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(master_port),
            "WORLD_SIZE": str(spec.workers),
            "RANK": str(rank),
            # Each local worker plays one DLC node with one process on it.
            "LOCAL_RANK": "0",
            "LOCAL_WORLD_SIZE": "1",
            "NPROC_PER_NODE": str(max(1, spec.gpu_count)),
            "PAI_OUTPUT_MODEL": str(output_dir),
            "PAI_OUTPUT_CHECKPOINTS": str(checkpoint_dir),
            "PAI_WORKING_DIR": str(working_dir),
            "PAI_METRICS_FILE": str(metrics_file),
            "PAI_EXIT_FILE": str(exit_file),
        }
    )
    if spec.checkpoint_interval is not None:
        env["PAI_CHECKPOINT_INTERVAL"] = str(spec.checkpoint_interval)
    for channel, path in inputs.items():
        env[f"PAI_INPUT_{channel.upper()}"] = str(path)
    if spec.framework == "tensorflow":
        cluster = {"worker": [f"127.0.0.1:{p}" for p in worker_ports]}
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": rank}, "environment": "cloud"}
        )
    return env
