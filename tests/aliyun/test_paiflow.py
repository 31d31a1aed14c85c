"""Pipelines on PAI: a PipelineSpec compiled to PAIFlow, registered and run through the real SDK
against the fake PAIFlow server (tests/aliyun/fakes/paiflow.py), which checks the manifest the way
the PAI SDK writes it and the PAIFlow documentation describes it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pai_jupyter.decisions.gate import decide_gate
from pai_jupyter.errors import ConflictError, NotFoundError, ValidationError
from pai_jupyter.specs.job import DataInput, JobSpec
from pai_jupyter.specs.pipeline import CronTrigger, DeployOptions, OssTrigger, PipelineSpec, StepSpec
from pai_jupyter.storage.uri import OssUri
from tests.aliyun.conftest import BUCKET, AliyunFakes
from tests.aliyun.fakes.paiflow import ACCOUNT_ID, manifest_documents

GATE = "accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50"


def churn_pipeline(**changes: object) -> PipelineSpec:
    spec = PipelineSpec(
        name="churn",
        steps=(
            StepSpec(
                name="prep",
                kind="preprocess",
                job=JobSpec(name="prep", inputs=(DataInput(uri=f"oss://{BUCKET}/raw/", channel="raw"),)),
                source="print('prep')",
            ),
            StepSpec(
                name="train",
                kind="train",
                job=JobSpec(name="train", args=("--epochs", "3")),
                source="print('train')",
                inputs={"data": "prep.output"},
            ),
            StepSpec(
                name="eval",
                kind="eval",
                job=JobSpec(name="eval"),
                source="print('eval')",
                inputs={"model": "train.model", "holdout": "prep.output"},
                gate=GATE,
            ),
            StepSpec(
                name="deploy",
                kind="deploy",
                service="churn-svc",
                inputs={"model": "train.model"},
                deploy=DeployOptions(processor="sklearn"),
                after=("eval",),
            ),
        ),
    )
    return spec.with_changes(**changes) if changes else spec


def _calls(fakes: AliyunFakes, action: str) -> list:
    assert fakes.paiflow is not None
    return fakes.paiflow.calls(action)


def test_compiled_pipeline_is_accepted_and_gates_the_deploy(fakes: AliyunFakes, aliyun) -> None:
    from pai_jupyter.backends.base import PipelineBackend

    assert isinstance(aliyun.pipelines, PipelineBackend)
    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/part-0.csv"), b"a,b\n1,2\n")
    pipeline = aliyun.pipelines.register(churn_pipeline().to_dict())
    assert pipeline["name"] == "churn" and pipeline["state"] == "active" and pipeline["next_run"] is None
    assert ["eval", "deploy"] in pipeline["dag"]["edges"]

    assert fakes.paiflow is not None
    stored = fakes.paiflow.pipelines[pipeline["pipeline_id"]]
    assert (stored["Identifier"], stored["Provider"], stored["Version"]) == ("pai-jupyter-churn", ACCOUNT_ID, "v1")
    assert stored["WorkspaceId"] == "ws-test"
    docs = manifest_documents(stored["Manifest"])
    assert len(docs) == 5  # four container components, then the pipeline (pai/pipeline/core.py)
    steps = {s["metadata"]["name"]: s["spec"] for s in docs[-1]["spec"]["pipelines"]}
    assert steps["train"]["dependencies"] == ["prep"]
    assert sorted(steps["eval"]["dependencies"]) == ["prep", "train"]
    assert steps["deploy"]["when"] == "{{pipelines.eval.outputs.parameters.gate}} == pass"
    assert "eval" in steps["deploy"]["dependencies"]
    assert steps["deploy"]["arguments"]["parameters"] == [
        {"name": "gate_decision", "from": "{{pipelines.eval.outputs.parameters.gate_decision}}"}
    ]
    train_args = {a["name"]: a for a in steps["train"]["arguments"]["artifacts"]}
    assert train_args["data"]["from"] == "{{pipelines.prep.outputs.artifacts.output}}"
    code = json.loads(train_args["code"]["value"])["location"]
    assert code["bucket"] == BUCKET and code["key"].startswith("pai-jupyter/pipelines/churn/steps/train/code/")
    # The step's script is on OSS where the code artifact points.
    assert aliyun.storage.read_bytes(OssUri(BUCKET, code["key"] + "main.py")) == b"print('train')"
    train = next(d for d in docs[:-1] if d["metadata"]["name"] == "churn-train")
    assert train["spec"]["container"]["image"].endswith("pytorch-training:2.5-cpu-py311-ubuntu22.04")
    assert "python main.py --epochs 3" in train["spec"]["container"]["command"][-1]
    assert train["spec"]["container"]["envs"]["PAI_INPUT_DATA"] == "{{inputs.artifacts.data}}"
    evaluation = next(d for d in docs[:-1] if d["metadata"]["name"] == "churn-eval")
    assert evaluation["spec"]["outputs"]["parameters"] == [
        {"name": "gate", "type": "String"},
        {"name": "gate_decision", "type": "String"},
    ]
    assert "paiflow_steps gate" in evaluation["spec"]["container"]["command"][-1]
    assert (
        f"oss://{BUCKET}/pai-jupyter/services/churn-svc/serving-metrics.json"
        in evaluation["spec"]["container"]["command"][-1]
    )

    # run -> get -> list round trip; a failed gate skips the deploy step on PAIFlow: the run is gated.
    run = aliyun.pipelines.run("churn")
    assert run["state"] == "running" and {s["state"] for s in run["steps"]} == {"running"}
    assert _calls(fakes, "CreatePipelineRun")[0].json["NoConfirmRequired"] is True
    worse = decide_gate(GATE, {"accuracy": 0.90, "latency_p95_ms": 20}, {"accuracy": 0.95}).to_dict()
    fakes.paiflow.finish_run(run["id"], outputs={"eval": {"gate": "fail", "gate_decision": json.dumps(worse)}})
    gated = aliyun.pipelines.get_run(run["id"])
    assert gated["state"] == "gated" and gated["finished_at"] is not None
    evaluated = next(s for s in gated["steps"] if s["name"] == "eval")
    assert evaluated["gate"]["passed"] is False and evaluated["gate"]["service"] == "churn-svc"
    assert evaluated["metrics"] == {"accuracy": 0.90, "latency_p95_ms": 20}
    assert {s["name"]: s["state"] for s in gated["steps"]} == {
        "prep": "succeeded",
        "train": "succeeded",
        "eval": "succeeded",
        "deploy": "skipped",
    }
    second = aliyun.pipelines.run("churn")
    with pytest.raises(ConflictError, match="still running on PAI, and its runs may not overlap"):
        aliyun.pipelines.run("churn")  # PAIFlow cannot queue it behind the running one
    fakes.paiflow.finish_run(second["id"], outputs={"eval": {"gate": "pass"}})
    listed = aliyun.pipelines.runs("churn")
    assert [(r["id"], r["state"]) for r in listed] == [(second["id"], "succeeded"), (run["id"], "gated")]
    shown = aliyun.pipelines.get("churn")
    assert shown["pipeline"]["last_run"]["id"] == second["id"] and len(shown["runs"]) == 2
    assert [p["name"] for p in aliyun.pipelines.list()] == ["churn"]


def test_registering_again_updates_the_same_pipeline(fakes: AliyunFakes, aliyun) -> None:
    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/part-0.csv"), b"x")
    first = aliyun.pipelines.register(churn_pipeline())
    second = aliyun.pipelines.register(churn_pipeline(description="v2"))
    assert second["pipeline_id"] == first["pipeline_id"] and second["revision"] == 2
    assert len(_calls(fakes, "CreatePipeline")) == 1 and len(_calls(fakes, "UpdatePipeline")) == 1
    assert aliyun.pipelines.pause("churn")["state"] == "paused"
    assert aliyun.pipelines.resume("churn")["state"] == "active"
    aliyun.pipelines.register(churn_pipeline(allow_overlap=True))
    running = [aliyun.pipelines.run("churn"), aliyun.pipelines.run("churn")]  # overlap allowed
    assert [r["number"] for r in running] == [1, 2]
    aliyun.pipelines.delete("churn")  # stops its unfinished runs, then forgets the pipeline
    assert fakes.paiflow is not None and fakes.paiflow.pipelines == {}
    assert {fakes.paiflow.runs[r["id"]].status for r in running} == {"Terminated"}
    with pytest.raises(NotFoundError, match="not registered"):
        aliyun.pipelines.run("churn")


def _set(path: str, value: object):
    """A mutation of the compiled documents: ``path`` is 'doc/key/key...' with list indices as ints."""

    def mutate(docs: list) -> None:
        parts = path.split("/")
        node = docs[int(parts[0])]
        for part in parts[1:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


# What a real account refuses (each rule's source is cited in tests/aliyun/fakes/paiflow.py).
MALFORMED = [
    ("unknown step", _set("-1/spec/pipelines/1/spec/dependencies", ["prep", "tune"]), "'tune'"),
    ("schema version", _set("-1/apiVersion", "core/v2"), "only core/v1"),
    ("someone else's provider", _set("-1/metadata/provider", "123"), "neither your account id nor PAI"),
    ("no identifier", _set("-1/metadata/identifier", ""), "metadata.identifier is required"),
    ("read without depending", _set("-1/spec/pipelines/1/spec/dependencies", []), "without depending on it"),
    ("cycle", _set("-1/spec/pipelines/0/spec/dependencies", ["eval"]), "cycle"),
    ("no image", _set("0/spec/container/image", ""), "spec.container.image is required"),
    ("command as a string", _set("0/spec/container/command", "python main.py"), "list of strings"),
    (
        "condition without a reference",
        _set("-1/spec/pipelines/3/spec/when", "gate == pass"),
        "is not '{{parameter}}",
    ),
    ("parameter type", _set("2/spec/outputs/parameters/0/type", "Float"), "is not one of"),
    ("artifact type", _set("1/spec/outputs/artifacts/0/metadata", {"type": {"Blob": {}}}), "data type 'Blob'"),
]


@pytest.mark.parametrize(("what", "mutate", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_manifest_is_refused_with_the_servers_reason_on_one_line(
    fakes: AliyunFakes, aliyun, what: str, mutate, words: str
) -> None:
    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/part-0.csv"), b"x")
    compiled = aliyun.pipelines.compile(churn_pipeline())
    docs = [json.loads(json.dumps(d)) for d in compiled.documents]
    order = [d["metadata"]["name"] for d in docs[:-1]]
    assert order == ["churn-prep", "churn-train", "churn-eval", "churn-deploy"]  # the indices above
    mutate(docs)
    broken = "\n---\n".join(json.dumps(d) for d in docs)
    with pytest.raises(ValidationError) as caught:
        aliyun.pipelines.client.create_pipeline(broken, "ws-test")
    line = str(caught.value)
    assert "\n" not in line.strip()
    assert "CreatePipeline failed: InvalidManifest" in line and words in line and "request id" in line
    assert fakes.paiflow is not None and fakes.paiflow.pipelines == {}


def test_a_run_needs_a_pipeline_or_a_manifest_and_not_both(fakes: AliyunFakes, aliyun) -> None:
    from alibabacloud_paiflow20210202 import models
    from alibabacloud_tea_util.models import RuntimeOptions

    from pai_jupyter.backends.aliyun.sdk_errors import sdk_call

    client = aliyun.pipelines.client
    for request, error, words in [
        (models.CreatePipelineRunRequest(name="x"), ValidationError, "PipelineId or PipelineManifest is required"),
        (
            models.CreatePipelineRunRequest(pipeline_id="flow-1", pipeline_manifest="a: b"),
            ValidationError,
            "not both",
        ),
        (models.CreatePipelineRunRequest(pipeline_id="flow-nope"), NotFoundError, "does not exist"),
    ]:
        with pytest.raises(error, match=words), sdk_call("CreatePipelineRun", client.endpoint):
            client.client.create_pipeline_run_with_options(request, {}, RuntimeOptions())


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        (CronTrigger("0 3 * * *"), "DataWorks"),
        (OssTrigger(f"oss://{BUCKET}/incoming/"), "Function Compute"),
    ],
)
def test_what_paiflow_cannot_run_is_refused_before_anything_is_sent(
    fakes: AliyunFakes, aliyun, trigger: object, words: str
) -> None:
    spec = churn_pipeline(triggers=(trigger,))
    with pytest.raises(ValidationError, match="cannot run on PAI Pipelines"):
        aliyun.pipelines.check(spec.to_dict())  # asked before anything is uploaded
    with pytest.raises(ValidationError) as caught:
        aliyun.pipelines.register(spec)
    assert "cannot run on PAI Pipelines" in caught.value.message
    assert words in (caught.value.hint or "")
    assert fakes.paiflow is not None and fakes.paiflow.requests == []
    assert not aliyun.storage.exists(OssUri(BUCKET, "pai-jupyter/pipelines/churn/steps/train/code/main.py"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"workers": 2}, "2 workers"),
        ({"instance_type": "ecs.gn6i-c4g1.xlarge"}, "instance type ecs.gn6i-c4g1.xlarge"),
        ({"gpu_count": 1}, "GPUs"),
        ({"spot": True}, "a spot instance"),
        ({"checkpoint": f"oss://{BUCKET}/ckpt/"}, "a checkpoint folder"),
    ],
)
def test_a_step_paiflow_cannot_size_is_refused_at_register(
    fakes: AliyunFakes, aliyun, changes: dict, words: str
) -> None:
    from dataclasses import replace

    spec = churn_pipeline()
    steps = tuple(replace(s, job=s.job.with_changes(**changes)) if s.name == "train" else s for s in spec.steps)
    with pytest.raises(ValidationError) as caught:
        aliyun.pipelines.register(spec.with_changes(steps=steps))
    assert words in caught.value.message and "step 'train'" in caught.value.message
    assert fakes.paiflow is not None and fakes.paiflow.requests == []


def test_the_gate_step_judges_the_candidate_against_the_recorded_serving_figures(
    fakes: AliyunFakes, aliyun, tmp_path: Path
) -> None:
    from pai_jupyter.backends.aliyun import paiflow_steps

    output = tmp_path / "eval-output"
    output.mkdir()
    (output / "metrics.json").write_text(json.dumps({"accuracy": 0.90, "latency_p95_ms": 20}))
    record = OssUri(BUCKET, "pai-jupyter/services/churn-svc/serving-metrics.json")
    args = ["gate", "--gate", GATE, "--output", str(output), "--serving", str(record)]

    # No version deployed yet: serving.* comparisons pass (nothing to be worse than).
    result = tmp_path / "params" / "gate"
    decision = paiflow_steps.run_gate(
        paiflow_steps.parser().parse_args([*args, "--result", str(result)]), aliyun.storage
    )
    assert decision["passed"] and result.read_text() == "pass"

    aliyun.storage.write_bytes(record, json.dumps({"version": 3, "metrics": {"accuracy": 0.95}}).encode())
    written = tmp_path / "params" / "gate_decision"
    decision = paiflow_steps.run_gate(
        paiflow_steps.parser().parse_args([*args, "--result", str(result), "--decision", str(written)]),
        aliyun.storage,
    )
    assert not decision["passed"] and result.read_text() == "fail" and decision["serving_version"] == 3
    assert json.loads(written.read_text()) == json.loads(json.dumps(decision))
    assert "accuracy" in decision["reason"]


def test_the_notebook_api_registers_and_runs_on_paiflow_and_refuses_a_schedule(
    fakes: AliyunFakes, aliyun, tmp_path: Path
) -> None:
    """The same Pipeline(...) a notebook writes, on the aliyun backend: its code snapshots and
    provenance go to OSS, the manifest to PAIFlow, and a run round-trips through the client API."""
    from pai_jupyter.api.pipelines import Pipeline, get_pipeline, get_run

    for script in ("prep.py", "train.py", "eval.py"):
        (tmp_path / script).write_text(f"print({script!r})\n")
    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/a.csv"), b"x")
    p = (
        Pipeline("digits", backend="aliyun", cwd=tmp_path)
        .preprocess("prep.py", data={"raw": f"oss://{BUCKET}/raw/"})
        .train("train.py", inputs={"data": "preprocess.output"})
        .eval("eval.py", model="train.model", gate=GATE)
        .deploy("digits", model="train.model", processor="custom", command="python app.py")
    )
    registered = p.register()
    assert registered["backend"] == "paiflow" and registered["spec"]["provenance"]
    assert fakes.paiflow is not None and len(fakes.paiflow.pipelines) == 1
    run = p.run()
    assert run.state == "running"
    fakes.paiflow.finish_run(run.id, outputs={"eval": {"gate": "pass"}})
    done = get_run(run.id, backend="aliyun")
    assert done.state == "succeeded" and done.steps["deploy"]["state"] == "succeeded"
    assert get_pipeline("digits", backend="aliyun")["runs"][0]["id"] == run.id

    nightly = Pipeline("nightly", backend="aliyun", cwd=tmp_path).preprocess("prep.py").schedule("0 3 * * *")
    with pytest.raises(ValidationError, match="cannot run on PAI Pipelines"):
        nightly.register()
    assert len(fakes.paiflow.pipelines) == 1 and not fakes.paiflow.calls("CreatePipeline")[1:]


@pytest.mark.slow
def test_the_deploy_step_rolls_out_on_eas_and_records_the_figures_for_the_next_gate(
    fakes: AliyunFakes, aliyun, tmp_path: Path
) -> None:
    """``paiflow_steps deploy`` as the compiled deploy step runs it: the model artifact arrives as
    its OSS location value, the service is created on (fake) EAS, and the candidate's figures are
    recorded where the next run's gate reads ``serving.*``."""
    from pai_jupyter.backends.aliyun import paiflow_steps
    from pai_jupyter.backends.aliyun.paiflow_compile import oss_value
    from pai_jupyter.specs.service import RolloutPlan
    from tests.serving.models import onnx_linear

    onnx_linear(fakes.oss.path(BUCKET, "models/m1/model.onnx"), n_in=4, n_out=2, seed=1)
    onnx_linear(fakes.oss.path(BUCKET, "models/m2/model.onnx"), n_in=4, n_out=2, seed=2)
    aliyun.serving.tick = 0.1
    record = OssUri(BUCKET, "pai-jupyter/services/digits-svc/serving-metrics.json")
    signature = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}], "outputs": []}
    # As in test_eas_serving: the relative latency gate off, two real containers on a loaded machine.
    plan = RolloutPlan(steps=(50.0, 100.0), bake_s=0.2, min_requests=5, max_p95_ratio=1000)

    def deploy(model: str, accuracy: float) -> dict:
        metrics = tmp_path / f"eval-{model}"
        metrics.mkdir()
        (metrics / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
        options = DeployOptions(processor="onnx", options={"signature": signature}, plan=plan)
        args = paiflow_steps.parser().parse_args(
            [
                "deploy",
                "--service",
                "digits-svc",
                "--options",
                json.dumps(options.to_dict()),
                "--model",
                oss_value(f"oss://{BUCKET}/models/{model}/", "cn-hangzhou"),
                "--record",
                str(record),
                "--metrics",
                str(metrics),
                "--tick",
                "0.05",
                "--rollout-timeout",
                "120",
                "--pipeline",
                "digits",
                "--step",
                "deploy",
                "--gate-decision",
                json.dumps({"gate": "accuracy >= 0.9", "passed": True, "comparisons": []}),
            ]
        )
        return paiflow_steps.run_deploy(args, backend=aliyun)

    out = deploy("m1", 0.93)  # the first version: created at 100 %, no rollout to drive
    assert out["service"] == "digits-svc" and out["metrics"] == {"accuracy": 0.93} and out["version"] == 1
    assert json.loads(aliyun.storage.read_bytes(record))["metrics"] == {"accuracy": 0.93}
    assert fakes.eas is not None and fakes.eas.calls("CreateService")

    deploy("m2", 0.95)  # a new version: the step drives the blue-green rollout to its end
    served = aliyun.serving.get("digits-svc")
    assert served.rollout is not None and served.rollout.state == "succeeded"
    assert json.loads(aliyun.storage.read_bytes(record)) == {
        "service": "digits-svc",
        "version": 2,
        "model": f"oss://{BUCKET}/models/m2/",
        "metrics": {"accuracy": 0.95},
    }
    assert fakes.eas.calls("ReleaseService")
    from pai_jupyter.api.lineage import service_lineage

    deployed = service_lineage("digits-svc", 2, aliyun)["deployed"]
    assert deployed["user"] == "pipeline digits on PAI" and deployed["backend"] == "aliyun"
    assert deployed["pipeline"] == {"name": "digits", "run": None, "step": "deploy"}
    assert deployed["gates"] == [{"gate": "accuracy >= 0.9", "passed": True, "comparisons": []}]


def test_the_cli_shows_a_pipeline_and_its_runs_from_paiflow(fakes: AliyunFakes, aliyun, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pai_jupyter.frontends.cli.main import cli

    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/part-0.csv"), b"x")
    aliyun.pipelines.register(churn_pipeline())
    runner = CliRunner()
    started = runner.invoke(cli, ["pipelines", "run", "churn", "--backend", "aliyun"])
    assert started.exit_code == 0, started.output
    assert fakes.paiflow is not None
    (run_id,) = fakes.paiflow.runs
    worse = decide_gate(GATE, {"accuracy": 0.90, "latency_p95_ms": 20}, {"accuracy": 0.95}).to_dict()
    fakes.paiflow.finish_run(run_id, outputs={"eval": {"gate": "fail", "gate_decision": json.dumps(worse)}})
    for args in (["pipelines", "list"], ["pipelines", "show", "churn"]):
        result = runner.invoke(cli, [*args, "--backend", "aliyun"])
        assert result.exit_code == 0, (args, result.output)
        assert "churn" in result.output
    runs = runner.invoke(cli, ["pipelines", "runs", "churn", "--backend", "aliyun"])
    assert runs.exit_code == 0, runs.output
    assert "#1" in runs.output and "gated" in runs.output and "deploy:skipped" in runs.output
    one = runner.invoke(cli, ["pipelines", "runs", "churn", "--run", run_id, "--backend", "aliyun"])
    assert one.exit_code == 0, one.output
    assert "deploy" in one.output and "gate FAILED" in one.output and "accuracy >= serving.accuracy" in one.output
    assert len(fakes.paiflow.pipelines) == 1  # reading registers nothing


def test_the_pipeline_magic_registers_on_paiflow_and_refuses_a_schedule_in_one_line(
    fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    work = tmp_path / "work"
    work.mkdir()
    (work / "prep.py").write_text("print('prep')\n")
    (work / "train.py").write_text("print('train')\n")
    monkeypatch.chdir(work)
    monkeypatch.setenv("PAI_JUPYTER_BACKEND", "local")  # the %config below selects aliyun
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    try:
        shell.run_line_magic("config", "PaiConfig.backend = 'aliyun'")
        cell = "preprocess: --script prep.py\ntrain: --script train.py --input data=preprocess.output\n"
        shell.run_cell_magic("pai_pipeline", "retrain --run --as p", cell)
        out = capsys.readouterr().out
        assert "Registered pipeline retrain (preprocess -> train)" in out and "Started run #1" in out
        assert fakes.paiflow is not None and len(fakes.paiflow.pipelines) == 1 and len(fakes.paiflow.runs) == 1
        shell.run_line_magic("pai_pipelines", "")
        assert "retrain" in capsys.readouterr().out
        with pytest.raises(UsageError) as caught:
            shell.run_cell_magic("pai_pipeline", "nightly --schedule '0 3 * * *'", cell)
        message = str(caught.value)
        assert "cannot run on PAI Pipelines" in message and "DataWorks" in message and "\n" not in message
        assert len(fakes.paiflow.pipelines) == 1
    finally:
        shell.extension_manager.unload_extension("pai_jupyter")
        InteractiveShell.clear_instance()


def test_without_the_paiflow_sdk_pipelines_say_what_to_install(
    fakes: AliyunFakes, aliyun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pai_jupyter.errors import BackendUnavailable

    monkeypatch.setitem(sys.modules, "alibabacloud_paiflow20210202", None)  # as if not installed
    with pytest.raises(BackendUnavailable) as caught:
        aliyun.pipelines.list()
    assert "alibabacloud-paiflow20210202, which is not installed" in caught.value.message
    assert "pip install" in (caught.value.hint or "")


def test_the_compiled_eval_step_runs_as_a_container_would_run_it(
    fakes: AliyunFakes, aliyun, tmp_path: Path
) -> None:
    """The eval component's own command and envs, executed by bash with PAIFlow's placeholders filled
    with local folders (the runtime is this checkout): the script writes its figures, the gate step
    judges them against the recorded serving figures on (fake) OSS and writes PAIFlow's parameters."""
    import os
    import re
    import subprocess

    aliyun.storage.write_bytes(OssUri(BUCKET, "raw/part-0.csv"), b"x")
    compiled = aliyun.pipelines.compile(churn_pipeline())
    container = next(d for d in compiled.documents if d["metadata"]["name"] == "churn-eval")["spec"]["container"]
    folders = {name: tmp_path / name for name in ("code", "output", "model", "holdout", "params")}
    for folder in folders.values():
        folder.mkdir()
    (folders["code"] / "main.py").write_text(
        "import json, os\n"
        "from pai_jupyter import report\n"
        "report(step=1, accuracy=0.5)\n"  # overlaid by the metrics file, as on the local backend
        "path = os.path.join(os.environ['PAI_OUTPUT_MODEL'], 'metrics.json')\n"
        "json.dump({'accuracy': 0.90, 'latency_p95_ms': 20}, open(path, 'w'))\n"
    )
    places = {
        "inputs.artifacts.code": str(folders["code"]),
        "inputs.artifacts.pai_jupyter_runtime": str(Path(__file__).resolve().parents[2]),
        "inputs.artifacts.model": str(folders["model"]),
        "inputs.artifacts.holdout": str(folders["holdout"]),
        "outputs.artifacts.output": str(folders["output"]),
    }

    def fill(text: str) -> str:
        return re.sub(r"\{\{([^}]+)\}\}", lambda m: places[m.group(1)], text)

    envs = {k: fill(v) for k, v in container["envs"].items()}
    command = [fill(c).replace("/pai/outputs/parameters", str(folders["params"])) for c in container["command"]]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"

    def run() -> dict:
        done = subprocess.run(
            command, env={**os.environ, **envs, "PATH": path}, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return json.loads((folders["params"] / "gate_decision").read_text())

    first = run()  # nothing deployed yet: the serving comparison has nothing to beat
    assert (folders["params"] / "gate").read_text() == "pass" and first["candidate"]["accuracy"] == 0.90
    record = OssUri(BUCKET, "pai-jupyter/services/churn-svc/serving-metrics.json")
    aliyun.storage.write_bytes(record, json.dumps({"version": 1, "metrics": {"accuracy": 0.95}}).encode())
    second = run()
    assert (folders["params"] / "gate").read_text() == "fail"
    assert second["passed"] is False and second["serving"] == {"accuracy": 0.95} and second["serving_version"] == 1
