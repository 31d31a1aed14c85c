"""Pipelines on the real local backend: a notebook-defined preprocess -> train -> eval -> deploy,
the gate stopping a worse candidate and rolling out a better one, an oss:// prefix trigger, a
schedule under an injected clock, and a control-plane restart mid-run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.pipelines import (
    Pipeline,
    get_pipeline,
    get_run,
    pause_pipeline,
    resume_pipeline,
    run_pipeline,
)
from pai_jupyter.api.services import get_service
from pai_jupyter.backends.registry import get_backend
from pai_jupyter.config import PaiConfig
from pai_jupyter.controlplane.server import running_server
from pai_jupyter.storage.local import LocalStorage
from pai_jupyter.storage.uri import OssUri

sys.path.insert(0, str(Path(__file__).parent))
from scripts import write_scripts

sys.path.insert(0, str(Path(__file__).parents[1]))
from conftest import wait_until

pytestmark = pytest.mark.slow
GATE = "accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50"


def _put(home: Path, uri: str, data: dict) -> None:
    LocalStorage(home / "storage").write_bytes(OssUri.parse(uri), json.dumps(data).encode())


NOTEBOOK_CELL = f"""
from pai_jupyter import Pipeline
p = (
    Pipeline("digits-retrain")
    .preprocess("prep.py", data={{"raw": "oss://pai-jupyter/raw/"}})
    .train("train.py", inputs={{"data": "preprocess.output"}})
    .eval("eval.py", model="train.model", data={{"heldout": "oss://pai-jupyter/heldout/"}}, gate={GATE!r})
    .deploy("digits", model="train.model", processor="custom", command={sys.executable + " app.py"!r},
            plan="50,100", bake=0.2, min_requests=0)
)
p.register()
"""


def test_notebook_pipeline_gate_stops_worse_and_rolls_out_better(
    ip: InteractiveShell, pai_home: Path, workdir: Path
) -> None:
    write_scripts(workdir)
    _put(pai_home, "oss://pai-jupyter/raw/a.json", {"quality": 0.90})
    _put(pai_home, "oss://pai-jupyter/heldout/h.json", {"x": 1})
    result = ip.run_cell(NOTEBOOK_CELL)
    assert result.success, result.error_in_exec
    p: Pipeline = ip.user_ns["p"]
    defined = get_pipeline("digits-retrain")["pipeline"]
    assert [n["name"] for n in defined["dag"]["nodes"]] == ["preprocess", "train", "eval", "deploy"]
    assert ["eval", "deploy"] in defined["dag"]["edges"]
    assert defined["spec"]["provenance"]["python"]  # stored with its provenance, like a job

    # 1. No service yet: the gate's serving comparison has nothing to beat; v1 is created.
    first = p.run(wait=True, timeout=120)
    assert first.state == "succeeded", first.data
    assert get_service("digits").predict({"x": 1}, raw=True) == b'{"quality": 0.9}'
    assert first.steps["eval"]["metrics"] == {"accuracy": 0.9, "latency_p95_ms": 7.5}

    # 2. A worse candidate (0.80 < 0.90 - 0.005): stopped at the gate with the figures; nothing deployed.
    _put(pai_home, "oss://pai-jupyter/raw/b.json", {"quality": 0.80})
    worse = p.run(wait=True, timeout=120)
    assert worse.state == "gated", worse.data
    gate = worse.gate
    assert gate is not None and not gate["passed"]
    assert gate["serving"] == {"accuracy": 0.9, "latency_p95_ms": 7.5} and gate["serving_version"] == 1
    assert gate["comparisons"][0]["values"] == [0.8, pytest.approx(0.895)]
    assert "accuracy >= serving.accuracy - 0.005" in worse.data["reason"]
    assert worse.steps["deploy"]["state"] == "skipped"
    svc = get_service("digits")
    assert [v.version for v in svc.record.versions] == [1]
    assert svc.predict({"x": 1}, raw=True) == b'{"quality": 0.9}'

    # 3. A better one passes and goes out by the blue-green rollout; the endpoint serves it.
    _put(pai_home, "oss://pai-jupyter/raw/c.json", {"quality": 0.95})
    better = p.run(wait=True, timeout=120)
    assert better.state == "succeeded", better.data
    assert better.gate is not None and better.gate["passed"]
    assert better.steps["deploy"]["version"] == 2
    record = get_service("digits").refresh()
    assert record.rollout is not None and record.rollout.state == "succeeded"
    assert record.weights == {1: 0.0, 2: 100.0} or record.weights == {2: 100.0}
    assert get_service("digits").predict({"x": 1}, raw=True) == b'{"quality": 0.95}'
    # The run links each step to its job / rollout.
    assert better.steps["train"]["links"]["job"].startswith("job-")
    assert better.steps["deploy"]["links"]["rollout"] == {"service": "digits", "version": 2}
    # Lineage says who deployed v2: this pipeline's run, with the gate that let it through.
    from pai_jupyter.api.lineage import service_lineage

    lineage = service_lineage("digits", 2, get_backend(None, PaiConfig()))
    assert lineage["deployed"]["user"] == "pipeline digits-retrain run #3"
    assert lineage["deployed"]["gates"][0]["passed"] is True
    assert lineage["job"]["id"] == better.steps["train"]["job_id"]


def test_object_under_the_watched_prefix_starts_exactly_one_run(pai_home: Path, workdir: Path) -> None:
    write_scripts(workdir)
    p = Pipeline("on-data").preprocess("hello.py").on_new_objects("oss://pai-jupyter/incoming/", debounce=0.5)
    _put(pai_home, "oss://pai-jupyter/incoming/old.json", {"n": 0})  # there before: starts nothing
    p.register()
    _put(pai_home, "oss://pai-jupyter/incoming/day1/a.json", {"n": 1})
    _put(pai_home, "oss://pai-jupyter/incoming/day1/b.json", {"n": 2})  # within the debounce: the same run
    runs = wait_until(lambda: get_pipeline("on-data")["runs"], timeout=30, what="a triggered run")
    run = get_run(runs[0]["id"]).wait(timeout=60)
    assert run.state == "succeeded"
    assert run.data["trigger"]["kind"] == "objects"
    assert run.data["trigger"]["objects"] == [
        "oss://pai-jupyter/incoming/day1/a.json",
        "oss://pai-jupyter/incoming/day1/b.json",
    ]
    import time

    time.sleep(2.0)  # several ticks later: nothing new, no second run
    assert len(get_pipeline("on-data")["runs"]) == 1


def _stop_plane_keeping_jobs(home: Path) -> None:
    """Stop the control plane as a crash or an upgrade would: its jobs keep running."""
    info = running_server(home)
    assert info
    requests.post(f"{info['url']}/api/v1/shutdown", headers={"Authorization": f"token {info['token']}"}, timeout=5)
    wait_until(lambda: running_server(home) is None, timeout=20, what="the control plane to stop")


def test_schedule_every_minute_with_an_injected_clock_and_missed_ones_run_once(
    pai_home: Path, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = tmp_path / "clock"
    t0 = 1_800_000_000.0  # a whole minute
    clock.write_text(str(t0 + 5))
    monkeypatch.setenv("PAI_PIPELINES_CLOCK", str(clock))
    monkeypatch.setenv("PAI_PIPELINES_TICK", "0.1")
    write_scripts(workdir)
    Pipeline("nightly").preprocess("hello.py").schedule("* * * * *").register()

    def runs() -> list[dict]:
        return get_pipeline("nightly")["runs"]

    import time

    time.sleep(0.5)
    assert runs() == []  # within the first minute: nothing yet
    for minute in (1, 2, 3):
        clock.write_text(str(t0 + 60 * minute + 1))
        wait_until(lambda m=minute: len(runs()) == m, timeout=30, what=f"run {minute}")
        get_run(runs()[0]["id"]).wait(timeout=60)
    assert [r["trigger"]["scheduled_for"] for r in reversed(runs())] == [t0 + 60, t0 + 120, t0 + 180]

    # Down for five minutes: the missed schedules run once on restart, not five times.
    _stop_plane_keeping_jobs(pai_home)
    clock.write_text(str(t0 + 60 * 8 + 1))
    wait_until(lambda: len(runs()) == 4, timeout=30, what="the catch-up run")  # this call restarts it
    time.sleep(1.0)
    latest = runs()
    assert len(latest) == 4
    assert latest[0]["trigger"]["scheduled_for"] == t0 + 480 and latest[0]["trigger"]["missed"] == 4
    get_run(latest[0]["id"]).wait(timeout=60)

    # Paused, the schedule does not fire; resumed, it counts from then.
    pause_pipeline("nightly")
    clock.write_text(str(t0 + 60 * 11 + 1))
    time.sleep(1.0)
    assert len(runs()) == 4
    resume_pipeline("nightly")
    time.sleep(0.5)
    assert len(runs()) == 4  # the minutes missed while paused are not made up
    clock.write_text(str(t0 + 60 * 12 + 1))
    wait_until(lambda: len(runs()) == 5, timeout=30, what="the first run after resume")


def test_a_failing_step_fails_the_run_and_skips_the_rest(pai_home: Path, workdir: Path) -> None:
    (workdir / "boom.py").write_text("raise SystemExit('bad input data')\n")
    write_scripts(workdir)
    run = Pipeline("fails").preprocess("boom.py").train("hello.py", inputs={"data": "preprocess.output"}).run()
    run.wait(timeout=60)
    assert run.state == "failed"
    assert run.steps["preprocess"]["state"] == "failed" and run.steps["train"]["state"] == "skipped"
    assert run.data["reason"].startswith("step preprocess failed: job job-")


def test_restart_mid_run_resumes_without_repeating_finished_steps(
    pai_home: Path, workdir: Path, tmp_path: Path
) -> None:
    write_scripts(workdir)
    go = tmp_path / "go"
    p = (
        Pipeline("resume-me")
        .preprocess("hello.py")
        .train("wait_for_go.py", inputs={"data": "preprocess.output"}, env={"GO_FILE": str(go)})
    )
    run = p.run()
    wait_until(lambda: run.refresh().steps["train"]["state"] == "running", timeout=60, what="train to start")
    prep_job = run.steps["preprocess"]["job_id"]
    train_job = run.steps["train"]["job_id"]
    assert run.steps["preprocess"]["state"] == "succeeded"
    # No overlap: a second run waits, a third request joins the waiting one.
    second = run_pipeline("resume-me")
    assert second.state == "queued"
    assert run_pipeline("resume-me").id == second.id
    _stop_plane_keeping_jobs(pai_home)
    go.write_text("go")
    final = run.wait(timeout=60)  # the first call starts the control plane again
    assert final.state == "succeeded", final.data
    assert final.steps["preprocess"]["job_id"] == prep_job and final.steps["train"]["job_id"] == train_job
    after = second.wait(timeout=60)
    assert after.state == "succeeded" and after.data["started_at"] >= final.data["finished_at"]
    assert len(after.data["trigger"]["joined"]) == 1
    backend = get_backend(None, PaiConfig())
    jobs = backend.training.list(name="resume-me")
    names = sorted(j.name for j in jobs)
    assert names == ["resume-me-preprocess"] * 2 + ["resume-me-train"] * 2  # two runs, nothing ran twice


def test_a_hand_deployed_serving_version_is_evaluated_once_for_the_gate(
    pai_home: Path, workdir: Path, tmp_path: Path
) -> None:
    from pai_jupyter.api.services import deploy
    from scripts import SERVER

    write_scripts(workdir)
    model = tmp_path / "by-hand"
    model.mkdir()
    (model / "weights.json").write_text(json.dumps({"quality": 0.9}))
    (model / "app.py").write_text(SERVER)
    deploy("svc-by-hand", model, processor="custom", command=f"{sys.executable} app.py")
    _put(pai_home, "oss://pai-jupyter/raw/a.json", {"quality": 0.8})
    _put(pai_home, "oss://pai-jupyter/heldout/h.json", {"x": 1})
    p = (
        Pipeline("vs-hand")
        .preprocess("prep.py", data={"raw": "oss://pai-jupyter/raw/"})
        .train("train.py", inputs={"data": "preprocess.output"})
        .eval("eval.py", data={"heldout": "oss://pai-jupyter/heldout/"}, gate=GATE)
        .deploy(
            "svc-by-hand",
            processor="custom",
            command=f"{sys.executable} app.py",
            plan="100",
            bake=0,
            min_requests=0,
        )
    )
    run = p.run(wait=True, timeout=120)
    assert run.state == "gated", run.data
    assert run.gate["serving"] == {"accuracy": 0.9, "latency_p95_ms": 7.5} and run.gate["serving_version"] == 1
    assert run.steps["eval"]["artefacts"]["baseline_job"].startswith("job-")
    # Recorded: the next run compares with the same figures without evaluating v1 again.
    again = p.run(wait=True, timeout=120)
    assert again.state == "gated" and "baseline_job" not in again.steps["eval"]["artefacts"]
