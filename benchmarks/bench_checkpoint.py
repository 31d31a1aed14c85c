"""Checkpoint I/O overhead at a realistic state size (default 200 MB).

One training loop (a 12-layer MLP of 52 M parameters, SGD with momentum, one thread) runs
the same number of steps without checkpoints and with ``Checkpointer.save``
every N steps, alternating A/B rounds in the same run; the ratio of the wall
times is the overhead. The state saved is the model's weights (200 MB at the
default size), as a job saves them. Also measured in the same run: one
``Checkpointer.save`` (stream + sha256 + fsync + rename + manifest) against a
bare ``torch.save`` to a file, which is what atomicity and the checksum cost,
and ``save(background=True)``: how long the training thread is blocked per
save (the CPU copy) against a synchronous save, and the loop's total time.
The background thread needs a spare core to pay off (on a GPU node the loop's
CPU thread mostly waits for the GPU); on a busy 2-core machine it competes
with the training thread, so its total-time gain varies from run to run.

Environment: ``BENCH_CKPT_MB`` (state size, default 200), ``BENCH_CKPT_STEPS``
(steps per run, default 60), ``BENCH_CKPT_EVERY`` (default 20).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _model(megabytes: int) -> Any:
    import torch

    torch.manual_seed(0)
    layers = 12
    width = max(8, int((megabytes * 2**20 / 4 / layers) ** 0.5))  # 12 x (w*w + w) float32 ~ megabytes
    blocks: list[torch.nn.Module] = []
    for _ in range(layers):
        blocks += [torch.nn.Linear(width, width), torch.nn.Tanh()]
    return torch.nn.Sequential(*blocks)


def _train(
    model: Any, steps: int, every: int | None, folder: Path, background: bool = False
) -> tuple[float, list[float]]:
    """Wall time of ``steps`` training steps (the last save included), and the time each save blocked."""
    import torch

    from pai_jupyter.checkpoint import Checkpointer

    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    x = torch.randn(8, model[0].in_features)
    ckpt = Checkpointer(folder, every_steps=every, keep=2, rank=0) if every else None
    saves: list[float] = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = model(x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ckpt is not None and ckpt.should_save(step):
            t0 = time.perf_counter()
            ckpt.save(model.state_dict(), step, background=background)
            saves.append(time.perf_counter() - t0)
    if ckpt is not None:
        ckpt.wait()
    return time.perf_counter() - start, saves


def _bare_save(model: Any, folder: Path) -> float:
    import torch

    t0 = time.perf_counter()
    torch.save(model.state_dict(), folder / "bare.pt")
    return time.perf_counter() - t0


def run() -> list[dict]:
    import torch

    torch.set_num_threads(1)
    megabytes = int(os.environ.get("BENCH_CKPT_MB", "200"))
    steps = int(os.environ.get("BENCH_CKPT_STEPS", "60"))
    every = int(os.environ.get("BENCH_CKPT_EVERY", "20"))
    model = _model(megabytes)
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    root = Path(tempfile.mkdtemp(prefix="pai-bench-ckpt-"))
    try:
        _train(model, 3, None, root)  # warm-up: allocator, optimizer state
        without, with_ckpt, with_bg, saves, stalls, bare, atomic = [], [], [], [], [], [], []
        for i in range(2):  # alternating A/B/C rounds
            without.append(_train(model, steps, None, root)[0])
            folder = root / f"run-{i}"
            wall, times = _train(model, steps, every, folder)
            with_ckpt.append(wall)
            saves += times
            shutil.rmtree(folder, ignore_errors=True)
            wall, times = _train(model, steps, every, folder, background=True)
            with_bg.append(wall)
            stalls += times
            bare.append(_bare_save(model, root))
            from pai_jupyter.checkpoint import Checkpointer

            t0 = time.perf_counter()
            Checkpointer(root / "single", every_steps=1, keep=1).save(model.state_dict(), i + 1)
            atomic.append(time.perf_counter() - t0)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base, timed, timed_bg = statistics.median(without), statistics.median(with_ckpt), statistics.median(with_bg)
    step_time = base / steps
    save = statistics.median(saves)
    n_saves = len(saves) // 2  # saves per run (two runs with synchronous saves)
    per_save = (timed - base) / max(n_saves, 1)
    per_save_bg = (timed_bg - base) / max(n_saves, 1)
    mb = size / 2**20
    return [
        {
            "name": f"train {steps} steps, checkpoint every {every} ({mb:.0f} MB state)",
            "value": timed,
            "unit": "s",
            "baseline": base,
            "baseline_name": "same loop, no checkpoints",
            "ratio": timed / base,
            "step_s": step_time,
            "saves": len(saves) // 2,
        },
        {
            "name": f"same, save(background=True) every {every}",
            "value": timed_bg,
            "unit": "s",
            "baseline": base,
            "baseline_name": "same loop, no checkpoints",
            "ratio": timed_bg / base,
        },
        {
            "name": "training blocked per save, background=True",
            "value": statistics.median(stalls),
            "unit": "s",
            "baseline": save,
            "baseline_name": "blocked per synchronous save",
            "ratio": statistics.median(stalls) / save,
        },
        {
            "name": f"Checkpointer.save {mb:.0f} MB (stream+sha256+fsync+rename+manifest)",
            "value": statistics.median(atomic),
            "unit": "s",
            "baseline": statistics.median(bare),
            "baseline_name": "bare torch.save to a file",
            "ratio": statistics.median(atomic) / statistics.median(bare),
            "throughput_mb_s": mb / statistics.median(atomic),
        },
        {
            # From the measured cost of a save inside the loop (the wall time it added, divided by the
            # number of saves), not from the time a save blocked: page-cache and fsync work that lands
            # on later steps is in it. One save every 15 minutes costs that much of 15 minutes.
            "name": "overhead at a 15m checkpoint interval, from the measured time per save (synchronous)",
            "value": 100 * per_save / (15 * 60),
            "unit": "%",
            "measured_s_per_save": round(per_save, 3),
            "saves_per_run": n_saves,
        },
        {
            "name": "overhead at a 15m checkpoint interval, from the measured time per save (background=True)",
            "value": 100 * per_save_bg / (15 * 60),
            "unit": "%",
            "measured_s_per_save": round(per_save_bg, 3),
        },
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import format_row

    for row in run():
        print(format_row(row))
