"""Training-job benchmarks on the local backend.

* ``%%pai_train`` capture + submit latency (the magic, in a real IPython shell,
  on a small Git project with an uncommitted change), against the cost of
  starting a bare Python interpreter measured in the same run - the least any
  hand-made "run my script" approach pays. Target: <= 300 ms.
* Runner overhead: a CPU-bound training loop (with ``report()`` calls) under
  the runner vs the same script run directly, alternating A/B runs. Target:
  >= 0.97x. Two figures: steps per CPU-second of the worker (what the runner
  adds to the script's own work: the reporting, the environment; immune to
  other load on a shared machine) and wall-clock steps/s (which also counts the
  control plane's sampling competing for cores, and any other load).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.local_backend import isolate, stop_server

LOOP = """
import os, time
import torch
from pai_jupyter import report
torch.set_num_threads(1)
torch.manual_seed(0)
w = torch.randn(128, 128)
x = torch.randn(64, 128)
steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - start < float(os.environ.get("BENCH_SECONDS", "3")):
    y = torch.tanh(x @ w)
    w -= 0.001 * (x.T @ y) / 64
    steps += 1
    if steps % 200 == 0:
        report(step=steps, loss=float(y.mean()))
rate = steps / (time.perf_counter() - start)
cpu_rate = steps / (time.process_time() - cpu_start)  # steps per CPU second: immune to other load
report(step=steps, throughput=rate, cpu_throughput=cpu_rate)
print(f"THROUGHPUT {rate} {cpu_rate}")
"""


def _project(root: Path) -> Path:
    import git

    repo = git.Repo.init(root)
    for i in range(20):
        (root / f"module_{i}.py").write_text(f"VALUE = {i}\n" * 50)
    (root / "notebooks").mkdir()
    (root / "notebooks" / "train.ipynb").write_text("{}")
    repo.index.add([str(p.relative_to(root)) for p in root.rglob("*.py")] + ["notebooks/train.ipynb"])
    repo.index.commit("init")
    (root / "module_0.py").write_text("VALUE = 'changed'\n")
    return root / "notebooks"


def bench_submit(n: int = 15) -> list[dict]:
    from IPython.core.interactiveshell import InteractiveShell

    base = isolate("pai-bench-")
    cwd = _project(base / "project")
    os.chdir(cwd)
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    times = []
    with contextlib.redirect_stdout(io.StringIO()):  # the magic's own "Submitted ..." lines
        shell.run_cell_magic("pai_train", "--name warmup --no-widget", "print(1)")  # starts the control plane
        for i in range(n):
            t0 = time.perf_counter()
            shell.run_cell_magic("pai_train", f"--name bench-{i} --workers 2 --no-widget", "print('hi')")
            times.append(time.perf_counter() - t0)
    spawn = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        spawn.append(time.perf_counter() - t0)
    stop_server()
    InteractiveShell.clear_instance()
    value, baseline = statistics.median(times) * 1000, statistics.median(spawn) * 1000
    return [
        {
            "name": "%%pai_train capture+submit (median)",
            "value": value,
            "unit": "ms",
            "baseline": baseline,
            "baseline_name": "bare `python -c pass`",
            "ratio": value / baseline,
            "target": "<= 300 ms",
            "p90": sorted(times)[int(0.9 * (n - 1))] * 1000,
        }
    ]


def bench_runner(rounds: int = 5, seconds: float = 3.0) -> list[dict]:
    from pai_jupyter.api import jobs as client
    from pai_jupyter.specs.job import JobSpec

    base = isolate("pai-bench-")
    script = base / "loop.py"
    script.write_text(LOOP)
    env = {**os.environ, "BENCH_SECONDS": str(seconds)}
    env.pop("PAI_METRICS_FILE", None)
    direct, runner, direct_cpu, runner_cpu = [], [], [], []
    for _ in range(rounds):
        out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
        wall, cpu = out.stdout.split("THROUGHPUT")[1].split()
        direct.append(float(wall))
        direct_cpu.append(float(cpu))
        spec = JobSpec(name="overhead", entry="loop.py", env={"BENCH_SECONDS": str(seconds)})
        job = client.submit_file(script, spec).wait(timeout=120)
        runner.append(job.metric("throughput")[-1][1])
        runner_cpu.append(job.metric("cpu_throughput")[-1][1])
    stop_server()
    d, r = statistics.median(direct), statistics.median(runner)
    dc, rc = statistics.median(direct_cpu), statistics.median(runner_cpu)
    return [
        {
            "name": "runner steps per CPU-second (median of A/B rounds)",
            "value": rc,
            "unit": "steps/cpu-s",
            "baseline": dc,
            "baseline_name": "same script run directly",
            "ratio": rc / dc,
            "target": ">= 0.97x",
        },
        {
            "name": "runner steps/s wall clock (median of A/B rounds; sensitive to other load)",
            "value": r,
            "unit": "steps/s",
            "baseline": d,
            "baseline_name": "same script run directly",
            "ratio": r / d,
            "target": ">= 0.97x",
        },
    ]


def run() -> list[dict]:
    return bench_submit() + bench_runner()


if __name__ == "__main__":
    from benchmarks.__main__ import format_row

    for row in run():
        print(format_row(row))
