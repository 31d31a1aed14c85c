"""Run at the start of a job, inside its container or worker: what the job itself runs with.

``python -m pai_jupyter.provenance.record_env OUT.json`` writes the job's Python,
installed distributions (``importlib.metadata``, what ``pip freeze`` lists),
frameworks with their CUDA build tags, and the GPU driver (NVML) when there is
one. Both backends run it as a step of the job's entry (rank 0 only), before the
user's script: on DLC into the run folder, locally into the job folder. The
client compares it with the kernel's environment (``decisions/env_diff.py``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .environment import capture_environment


def record(out: Path) -> dict:
    env = capture_environment()
    data = {
        "recorded_at": time.time(),
        "python": env["python"],
        "platform": env["platform"],
        "frameworks": env["frameworks"],
        "cuda": env["cuda"],
        "packages": env["packages"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, out)  # readers never see half a file
    return data


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pai_jupyter.provenance.record_env OUT.json", file=sys.stderr)
        return 2
    try:
        record(Path(argv[0]))
    except OSError as exc:  # the job runs anyway; only its record is missing
        print(f"pai-jupyter: could not record the job's environment: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
