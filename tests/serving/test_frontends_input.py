"""Bad input at the front ends: one line, a hint, nothing deployed, nothing uploaded.

The magics run in a real IPython shell; the CLI through its real entry point
(``pai_jupyter.frontends.cli.main.main``, exit code 2 and the message on stderr). None of these
needs a control plane: every check happens before the backend is asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.api.services import deploy, infer_processor
from pai_jupyter.errors import NotFoundError, ValidationError
from pai_jupyter.frontends.options.services import deploy_request


@pytest.fixture
def model(workdir: Path) -> Path:
    path = workdir / "model.onnx"
    path.write_bytes(b"not really onnx: never read by these tests")
    return path


BAD_DEPLOYS = [
    ("svc --model model.onnx --processor caffe", "'caffe' is not one of"),
    ("svc --model missing.onnx", "model 'missing.onnx' is not a local file or folder"),
    ("svc --model model.onnx --env prod --min 0 --max 2", "prod services need --min 1 or more"),
    ("svc --model model.onnx --env prod --scale-to-zero", "prod services need --min 1 or more"),
    ("svc --model model.onnx --plan 10,50", "must end at 100"),
    ("svc --model model.onnx --plan 50,10,100", "must increase"),
    ("svc --model model.onnx --bake soon", "is not a duration"),
    ("svc --model model.onnx --max-error-rate lots", "is not a rate"),
    ("svc --model model.onnx --max-error-rate 150%", "--max-error-rate must be between 0 and 1"),
    ("Bad_Name --model model.onnx", "service name 'Bad_Name' is not valid"),
    ("svc", "Missing option '--model'"),
    ("svc --model model.onnx --processor custom", "custom processor needs a command"),
    ("svc --model model.onnx --min 2 --max 4 --scale-to-zero", "--scale-to-zero needs --min 0"),
    ("svc --model model.onnx --min 3 --max 2", "--min 3 is above --max 2"),
    ("svc --model model.onnx --instances 5 --min 1 --max 2", "outside the autoscaler's range"),
    ("svc --model model.onnx --max-body 12parsecs", "is not a size"),
    ("svc --model model.onnx --signature '{broken'", "--signature is not valid JSON"),
    ("svc --model model.onnx --command 'python s.py' --processor onnx", "--command is only for the custom"),
    ("svc --model model.onnx --as 1abc", "'1abc' is not a Python variable name"),
    ("svc --model 'unclosed", "could not parse the options"),
]


@pytest.mark.parametrize(("line", "message"), BAD_DEPLOYS)
def test_pai_deploy_bad_input_is_one_line(ip: InteractiveShell, model: Path, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("pai_deploy", line)
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "Traceback" not in text
    # nothing was uploaded
    assert not (pai_home_storage(ip) / "pai-jupyter").exists()


def pai_home_storage(ip: InteractiveShell) -> Path:
    from pai_jupyter.config import current_config

    config = current_config()
    return config.home_path / "storage" / (config.oss_bucket or config.default_bucket)


def test_unknown_option_suggests_the_right_one(ip: InteractiveShell, model: Path) -> None:
    with pytest.raises(UsageError, match=r"(?i)did you mean.*--model"):
        ip.run_line_magic("pai_deploy", "svc --mdoel model.onnx")


def test_deploy_help_lists_the_shared_options(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("pai_deploy", "--help")
    out = capsys.readouterr().out
    for option in (
        "--model",
        "--processor",
        "--scale-to-zero",
        "--plan",
        "--max-p95-ms",
        "--new-api-version",
        "--as",
    ):
        assert option in out


@pytest.mark.parametrize(
    ("magic", "line", "message"),
    [
        ("pai_rollout", "svc frobnicate", "'frobnicate' is not one of"),
        ("pai_rollback", "svc", "Missing option '--to'"),
        ("pai_rollback", "svc --to 0", "0 is not in the range"),
        ("pai_rollback", "svc --to two", "'two' is not a valid integer"),
    ],
)
def test_other_magics_bad_input(ip: InteractiveShell, magic: str, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_line_magic(magic, line)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("line", "message"), BAD_DEPLOYS[:10])
def test_cli_deploy_bad_input_exits_2_with_one_line(
    pai_home: Path, model: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    import shlex

    from pai_jupyter.frontends.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["deploy", *shlex.split(line)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_services_rollout_rejects_unknown_action(pai_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pai_jupyter.frontends.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["services", "rollout", "svc", "explode"])
    assert info.value.code == 2
    assert "'explode' is not one of" in capsys.readouterr().err


# -- the client API ------------------------------------------------------------------
def test_client_deploy_checks_before_touching_storage(pai_home: Path, model: Path) -> None:
    with pytest.raises(ValidationError, match="processor 'caffe' is not supported"):
        deploy("svc", model, processor="caffe")
    with pytest.raises(NotFoundError, match="is not a local file or folder"):
        deploy("svc", "./nope/model.onnx")
    with pytest.raises(ValidationError, match="--model is empty"):
        deploy("svc", "")


def test_model_folder_without_a_model_says_so(pai_home: Path, workdir: Path) -> None:
    folder = workdir / "outputs"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi")
    (folder / "provenance.json").write_text("{}")
    with pytest.raises(ValidationError, match="cannot tell the processor") as info:
        deploy("svc", folder)
    assert "--processor" in (info.value.hint or "")
    empty = workdir / "empty"
    empty.mkdir()
    with pytest.raises(ValidationError, match="is empty"):
        deploy("svc", empty)


@pytest.mark.parametrize(
    ("names", "processor"),
    [
        (["model.onnx"], "onnx"),
        (["model.pt"], "torchscript"),
        (["net.ts"], "torchscript"),
        (["model.pkl"], "sklearn"),
        (["model.joblib", "provenance.json"], "sklearn"),
        (["model.json"], "xgboost"),
        (["booster.ubj", "signature.json"], "xgboost"),
        (["saved_model.pb", "variables/variables.index"], "tensorflow"),
        (["sub/model.onnx", "provenance.json", "README.md"], "onnx"),
    ],
)
def test_processor_inference(names: list[str], processor: str) -> None:
    assert infer_processor(names, "m") == processor


def test_processor_inference_refuses_mixed_folders() -> None:
    with pytest.raises(ValidationError, match="holds onnx and sklearn models"):
        infer_processor(["a.onnx", "b.pkl"], "m")


def test_deploy_request_turns_options_into_policy_and_plan() -> None:
    request = deploy_request(
        "svc",
        model="m.onnx",
        env="staging",
        min_=0,
        max_=4,
        qps_per_instance=25.0,
        scale_in_cooldown=120.0,
        idle_grace=60.0,
        plan="20,100",
        bake=5.0,
        max_error_rate=0.1,
    )
    scaler = request.options["autoscaler"]
    assert (scaler.min, scaler.max, scaler.scale_to_zero, scaler.qps_per_instance) == (0, 4, True, 25.0)
    assert (scaler.scale_in_cooldown_s, scaler.idle_grace_s) == (120.0, 60.0)
    assert request.plan is not None and request.plan.steps == (20.0, 100.0) and request.plan.bake_s == 5.0
    assert request.plan.max_error_rate == 0.1
    plain = deploy_request("svc", model="m.onnx")
    assert plain.options["autoscaler"] is None and plain.plan is None
    # --scale-to-zero alone means --min 0
    zero = deploy_request("svc", model="m.onnx", scale_to_zero=True)
    assert zero.options["autoscaler"].min == 0 and zero.options["autoscaler"].max == 1
