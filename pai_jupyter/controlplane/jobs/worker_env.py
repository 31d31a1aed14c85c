"""The environment a local worker gets: DLC's contract plus PAI SDK locations.

A script written for PAI-DLC (PyTorchJob / TFJob) or for PAI's Python SDK
runs unchanged: the rendezvous variables are DLC's (``WORLD_SIZE`` counts
workers, ``RANK`` is the worker index), the locations are the SDK's
(``JobSpec.pai_envs``, the one builder of ``PAI_*``): PAI's own ``/ml`` paths in
a private view, the job's local folders without one (``layout.worker_layout``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...autolog import worker_pythonpath
from ...specs.job import JobLocations, JobSpec
from ..private import child_environ


def worker_env(
    *,
    spec: JobSpec,
    job_id: str,
    rank: int,
    master_port: int,
    worker_ports: list[int],
    locations: JobLocations,
    metrics_file: Path,
    exit_file: Path,
    attempt: int,
) -> dict[str, str]:
    env = child_environ()
    env.update(spec.env)
    env.update(spec.pai_envs(attempt=attempt, locations=locations))
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PAI_JOB_ID": job_id,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(master_port),
            "WORLD_SIZE": str(spec.workers),
            "RANK": str(rank),
            # Each local worker plays one DLC node with one process on it.
            "LOCAL_RANK": "0",
            "LOCAL_WORLD_SIZE": "1",
            "NPROC_PER_NODE": str(max(1, spec.gpu_count)),
            "PAI_METRICS_FILE": str(metrics_file),
            "PAI_EXIT_FILE": str(exit_file),
        }
    )
    if spec.autolog:  # our sitecustomize hooks Trainer / Lightning / Keras when the script imports them
        env["PYTHONPATH"] = worker_pythonpath(env.get("PYTHONPATH"))
    if spec.framework == "tensorflow":
        cluster = {"worker": [f"127.0.0.1:{p}" for p in worker_ports]}
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": rank}, "environment": "cloud"}
        )
    return env
