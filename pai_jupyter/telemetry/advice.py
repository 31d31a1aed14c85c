"""Advice from a recorded GPU trace: a pure function, so it is tested on recorded traces.

A job whose GPUs stay below 60 % busy for a whole window is waiting for its
input pipeline, not for compute: more GPUs would wait too. The advice names the
cause and the fix (more DataLoader workers, prefetching), and says not to add
GPUs. A GPU at 0 % for the whole window gets a different advice: the script
is not using it at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..durations import format_duration

THRESHOLD = 60.0  # percent
WINDOW = 300.0  # seconds
WARMUP = 30.0  # seconds after the first sample that are never judged (CUDA init, model load)
SPIKES = 0.1  # share of samples in the window allowed at or above the threshold


@dataclass(frozen=True)
class Advice:
    kind: str  # "input-bound" | "gpu-idle"
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def input_bound_advice(
    trace: Sequence[tuple[float, float]],
    *,
    window: float = WINDOW,
    threshold: float = THRESHOLD,
    warmup: float = WARMUP,
    min_samples: int = 3,
) -> Advice | None:
    """Decide from ``[(ts, gpu_util %), ...]`` (oldest first) whether the job is input-bound.

    Advice is given only when the samples cover a full ``window`` after the
    ``warmup``, there are at least ``min_samples`` of them, and the GPU stayed
    below ``threshold`` (brief spikes, up to 10 % of the samples, do not count).
    """
    if not trace:
        return None
    start = trace[0][0] + warmup
    end = trace[-1][0]
    if end - start < window:
        return None  # not observed for a whole window yet
    recent = [u for ts, u in trace if ts >= end - window]
    if len(recent) < min_samples:
        return None
    busy = sum(1 for u in recent if u >= threshold)
    if busy > SPIKES * len(recent):
        return None
    mean = sum(recent) / len(recent)
    data = {
        "mean_gpu_util": round(mean, 1),
        "max_gpu_util": max(recent),
        "threshold": threshold,
        "window_s": window,
        "samples": len(recent),
    }
    span = format_duration(window)
    if max(recent) == 0:
        return Advice(
            "gpu-idle",
            f"GPU utilisation was 0% for the last {span}: the script does not use the GPU; "
            "move the model and each batch to it (model.to('cuda'), batch.to('cuda')) or run on a CPU instance",
            data,
        )
    return Advice(
        "input-bound",
        f"GPU utilisation averaged {mean:.0f}% (below {threshold:.0f}%) over the last {span}: "
        "the run is input-bound, the GPUs wait for data. Raise DataLoader num_workers and prefetch_factor "
        "(with pin_memory=True); do not add GPUs, they would wait too",
        data,
    )
