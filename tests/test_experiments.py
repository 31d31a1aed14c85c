"""Experiments as users meet them: %%pai_train in a real IPython shell groups runs by the notebook's
name, `jupyter pai experiments` (its main()) lists and compares them, %pai_compare draws them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.experiments import default_experiment, experiment_name
from pai_jupyter.decisions.experiments import best_index, maximize_metric
from pai_jupyter.frontends.cli.main import main
from pai_jupyter.frontends.render.charts import line_chart, nice_ticks
from pai_jupyter.specs.job import JobSpec

RUN = """
from pai_jupyter import report
LR = {lr}
for step in range(1, 5):
    report(step=step, loss={scale} / step, accuracy=1 - {scale} / (step * 10))
"""


def test_default_experiment_is_the_notebooks_name() -> None:
    # ipykernel sets __session__ from JPY_SESSION_NAME (ipykernel/ipkernel.py).
    assert default_experiment({"__session__": "/home/me/work/My Model v2.ipynb"}, {}) == "My-Model-v2"
    assert default_experiment({}, {"JPY_SESSION_NAME": "nb/tune_lr.ipynb"}) == "tune_lr"
    assert default_experiment({}, {}) == "default"
    assert default_experiment({"__session__": "实验 一.ipynb"}, {}) == "实验-一"
    assert experiment_name("???.ipynb") == "default"


def test_experiment_and_autolog_round_trip_through_json_and_dlc() -> None:
    spec = JobSpec(name="j", experiment="tune-lr", autolog=False)
    assert JobSpec.from_dict(spec.to_dict()) == spec
    body = spec.to_dlc(code_uri="oss://b/code/")
    assert body["Settings"]["Tags"]["pai-jupyter.experiment"] == "tune-lr"
    assert JobSpec.from_dlc(body) == spec
    with pytest.raises(Exception, match="experiment name 'a b' is not valid"):
        JobSpec(name="j", experiment="a b").validate()


def test_metric_direction_and_best_run() -> None:
    assert not maximize_metric("val_loss") and not maximize_metric("error_rate")
    assert maximize_metric("accuracy") and maximize_metric("eval_f1")
    assert maximize_metric("loss", maximize=True)
    finals = [{"loss": 0.5}, {"loss": 0.2, "accuracy": 0.7}, {"accuracy": 0.9}]
    assert best_index(finals, "loss") == 1
    assert best_index(finals, "accuracy") == 2
    assert best_index(finals, "missing") is None


def test_chart_has_axes_ticks_and_one_line_per_run() -> None:
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    svg = line_chart({"a": [(1, 1.0), (2, 0.5)], "b": [(1, 2.0), (3, 0.1)]}, y_label="loss")
    assert svg.count("<polyline") == 2 and "step" in svg and ">loss<" in svg
    assert "<title>a: last 0.5 at step 2, min 0.5</title>" in svg


@pytest.mark.slow
def test_runs_grouped_listed_compared_and_best_marked(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    ip.user_ns["__session__"] = str(workdir / "tune lr.ipynb")
    ids = []
    for lr, scale in (("0.1", 2.0), ("0.01", 1.0), ("0.001", 3.0)):
        ip.run_cell_magic("pai_train", "--name lr-run --wait --no-widget", RUN.format(lr=lr, scale=scale))
        ids.append(ip.user_ns["_pai_job"].id)
    ip.run_cell_magic("pai_train", "--name other --experiment baseline --wait --no-widget", "print('x')")
    other = ip.user_ns["_pai_job"]
    assert other.spec.experiment == "baseline" and ip.user_ns["_pai_job"].spec.autolog is True
    capsys.readouterr()

    main(["experiments", "list", "--json"])
    listed = json.loads(capsys.readouterr().out)["experiments"]
    assert [(e["name"], e["runs"]) for e in listed] == [("baseline", 1), ("tune-lr", 3)]

    main(["experiments", "show", "tune-lr", "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "tune-lr" and [r["job"]["id"] for r in shown["runs"]] == ids[::-1]
    assert shown["metric"] == "loss" and shown["best"] == ids[1]  # lowest final loss: 1.0 / 4
    run = shown["runs"][0]
    assert run["job"]["experiment"] == "tune-lr"
    assert run["final"]["loss"] == pytest.approx(3.0 / 4) and run["duration_s"] > 0
    assert {"hyperparameters", "commit", "dirty"} <= set(run)

    main(["experiments", "show", "tune-lr", "--metric", "accuracy", "--sort", "accuracy"])
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if any(i in line for i in ids) and "best by" not in line]
    assert [next(i for i in ids if i in row) for row in rows] == [ids[1], ids[0], ids[2]], text
    assert rows[0].startswith("*") and f"best by accuracy (highest): {ids[1]}" in text

    with pytest.raises(SystemExit) as info:
        main(["experiments", "show", "tune-lr", "--sort", "speed"])
    assert info.value.code == 2
    assert "--sort 'speed' is not a column of these runs" in capsys.readouterr().err

    with pytest.raises(SystemExit) as info:
        main(["experiments", "show", "nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "experiment 'nope' has no runs" in err and "tune-lr" in err

    shown_html: list[dict[str, str]] = []
    ip.display_pub.publish = lambda data, **kw: shown_html.append(data)  # type: ignore[method-assign]
    ip.run_line_magic("pai_compare", f"{ids[0]} {ids[2]} --metric loss")
    (bundle,) = shown_html
    page = bundle["text/html"]
    assert page.count("<polyline") == 2 and "pai-compare-table" in page
    best_row = re.search(r"<tr style=[^>]*>(.*?)</tr>", page)
    assert best_row and ids[0] in best_row.group(1)  # 2.0/4 beats 3.0/4
    assert f"best by loss (lowest): {ids[0]}" in bundle["text/plain"]


@pytest.mark.slow
def test_cli_train_defaults_to_the_scripts_name_and_experiment_magic_shows_it(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    script = workdir / "sweep lr.py"
    script.write_text(RUN.format(lr="0.1", scale=1.0))
    main(["train", str(script), "--wait", "--json"])
    done = json.loads(capsys.readouterr().out)
    assert done["experiment"] == "sweep-lr" and done["spec"]["experiment"] == "sweep-lr"
    main(["train", str(script), "--experiment", "named", "--no-autolog", "--json"])
    named = json.loads(capsys.readouterr().out)
    assert named["experiment"] == "named" and named["spec"]["autolog"] is False

    shown: list[dict[str, str]] = []
    ip.display_pub.publish = lambda data, **kw: shown.append(data)  # type: ignore[method-assign]
    ip.run_line_magic("pai_experiment", "sweep-lr --metric accuracy")
    (bundle,) = shown
    assert "Experiment <b>sweep-lr</b>: 1 run(s)" in bundle["text/html"]
    assert f"best by accuracy (highest): {done['id']}" in bundle["text/plain"]


@pytest.mark.slow
def test_the_python_api_takes_the_notebook_from_the_kernels_environment(
    pai_home: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.api.jobs import submit

    # jupyter-server starts a notebook's kernel with JPY_SESSION_NAME set to the notebook's path.
    monkeypatch.setenv("JPY_SESSION_NAME", str(workdir / "Run Book.ipynb"))
    job = submit("print(1)\n", JobSpec(name="api-job"), cwd=workdir)
    assert job.spec.experiment == "Run-Book" and job.refresh().spec.experiment == "Run-Book"
