"""--hp and TensorBoard on DLC: the CreateJob request carries the PAI SDK's training contract.

The PAI SDK hands hyperparameters to PAI's training service (``HyperParameters`` of
CreateTrainingJob, pai/api/training_job.py), which gives the container ``PAI_HPS``,
``PAI_HPS_<NAME>``, ``PAI_USER_ARGS`` and ``/ml/input/config/hyperparameters.json``
(docs/source/user-guide/training/prepare-code.rst; pai/job/_local_training_job.py builds the
same for its local container). A DLC CreateJob has no such field, so the request carries the
variables in ``Envs`` and the user command writes the file from ``PAI_HPS`` before the script.
TensorBoard logs go to the SDK's "tensorboard" output channel (pai/job/_training_job.py), an OSS
prefix mounted read-write at /ml/output/tensorboard.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pai_jupyter.backends.aliyun import dlc_jobs as dj
from pai_jupyter.frontends.cli.main import cli
from tests.aliyun.conftest import BUCKET, AliyunFakes

pytestmark = pytest.mark.slow
AT_DLC = ("--backend", "aliyun")

TORCH_STYLE = """
import json, os
import torch

hps = json.load(open(os.path.join(os.environ["PAI_CONFIG_DIR"], "hyperparameters.json")))
lr = float(os.environ["PAI_HPS_LR"])
opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=lr)
print("SEEN" + json.dumps({"lr": opt.param_groups[0]["lr"], "hps": hps, "args": os.environ["PAI_USER_ARGS"]}))
"""


def test_hp_and_tensorboard_travel_in_the_create_job_request(fakes: AliyunFakes, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(TORCH_STYLE)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "train",
            str(script),
            "--name",
            "hp-dlc",
            "--hp",
            "lr=0.01",
            "--hp",
            "epochs=2",
            "--wait",
            "--json",
            *AT_DLC,
        ],
    )
    assert result.exit_code == 0, result.output
    job = json.loads(result.output[result.output.index("{") :])
    (req,) = fakes.dlc.calls("CreateJob")
    body = req.json
    envs = body["Envs"]
    assert json.loads(envs["PAI_HPS"]) == {"lr": "0.01", "epochs": "2"}
    assert envs["PAI_HPS_LR"] == "0.01" and envs["PAI_HPS_EPOCHS"] == "2"
    assert envs["PAI_USER_ARGS"] == "--lr 0.01 --epochs 2"
    assert envs["PAI_CONFIG_DIR"] == "/ml/input/config"
    command = body["UserCommand"]
    write = 'mkdir -p /ml/input/config && printf "%s" "$PAI_HPS" > /ml/input/config/hyperparameters.json'
    assert write in command and command.index(write) < command.index("python train.py")
    # TensorBoard: the run folder's tensorboard/ prefix, mounted read-write, named by the variable.
    mounts = {s["MountPath"]: (s["Uri"], s["MountAccess"]) for s in body["DataSources"]}
    run_key = job["outputs"]["run"].split(f"{BUCKET}/", 1)[1]
    assert mounts["/ml/output/tensorboard"] == (
        f"oss://{BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com/{run_key}tensorboard/",
        "RW",
    )
    assert envs["PAI_OUTPUT_TENSORBOARD"] == "/ml/output/tensorboard"
    # The fake DLC ran the command: the script read both.
    assert job["state"] == "Succeeded"
    logs = json.loads(runner.invoke(cli, ["jobs", "logs", job["id"], "--json", "--backend", "aliyun"]).output)
    seen = json.loads(next(x[4:] for x in logs["text"].splitlines() if x.startswith("SEEN")))
    assert seen == {"lr": 0.01, "hps": {"lr": "0.01", "epochs": "2"}, "args": "--lr 0.01 --epochs 2"}
    # A job read back from DLC alone (no manifest) has its hyperparameters, and none of them as --env.
    spec = dj.foreign_spec(body)
    assert spec.hyperparameters == {"lr": "0.01", "epochs": "2"} and spec.env == {}
    # How to open the logs: the OSS prefix and the PAI SDK's TensorBoard app.
    shown = runner.invoke(cli, ["jobs", "tensorboard", job["id"], "--json", "--backend", "aliyun"])
    info = json.loads(shown.output)["tensorboard"]
    assert info["logdir"] == job["outputs"]["tensorboard"] and info["url"] is None
    assert info["command"].startswith('python -c "from pai.tensorboard import TensorBoard;')
    text = runner.invoke(cli, ["jobs", "tensorboard", job["id"], "--backend", "aliyun"]).output
    assert "PAI console" in text and job["outputs"]["tensorboard"] in text


def test_a_dlc_job_that_writes_no_model_gets_a_warning(fakes: AliyunFakes, tmp_path: Path) -> None:
    runner = CliRunner()
    for name, source in (("forgetful", "print('saved nothing')\n"), ("saver", SAVER)):
        script = tmp_path / f"{name}.py"
        script.write_text(source)
        result = runner.invoke(cli, ["train", str(script), "--wait", "--json", "--backend", "aliyun"])
        assert result.exit_code == 0, result.output
        job = json.loads(result.output[result.output.index("{") :])
        events = json.loads(
            runner.invoke(cli, ["jobs", "events", job["id"], "--json", "--backend", "aliyun"]).output
        )
        warnings = [e["message"] for e in events if e["kind"] == "warning"]
        expected = [f"the script wrote no model to PAI_OUTPUT_MODEL ({job['outputs']['model']})"]
        assert warnings == (expected if name == "forgetful" else []), events


SAVER = """
import os
open(os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.txt"), "w").write("w")
"""


def test_a_file_input_is_named_by_its_variable_as_on_pai(fakes: AliyunFakes, tmp_path: Path) -> None:
    """``--data train=oss://.../train.csv``: PAI_INPUT_TRAIN names the file inside its channel folder
    (prepare-code.rst: ``PAI_INPUT_TEST=/ml/input/data/test/test.csv``), the folder is what DLC mounts."""
    fakes.oss.path(BUCKET, "bc/train/train.csv").parent.mkdir(parents=True)
    fakes.oss.path(BUCKET, "bc/train/train.csv").write_text("mean radius,target\n13.1,1\n")
    script = tmp_path / "reader.py"
    script.write_text("import os\nprint('HEADER', open(os.environ['PAI_INPUT_TRAIN']).readline().strip())\n")
    runner = CliRunner()
    args = ["train", str(script), "--data", f"train=oss://{BUCKET}/bc/train/train.csv", "--wait", "--json"]
    result = runner.invoke(cli, [*args, *AT_DLC])
    assert result.exit_code == 0, result.output
    job = json.loads(result.output[result.output.index("{") :])
    assert job["state"] == "Succeeded"
    (req,) = fakes.dlc.calls("CreateJob")
    mounts = {s["MountPath"]: s["Uri"] for s in req.json["DataSources"]}
    assert mounts["/ml/input/data/train"] == f"oss://{BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com/bc/train/"
    assert req.json["Envs"]["PAI_INPUT_TRAIN"] == "/ml/input/data/train/train.csv"
    logs = json.loads(runner.invoke(cli, ["jobs", "logs", job["id"], "--json", *AT_DLC]).output)
    assert "HEADER mean radius,target" in logs["text"]
    assert job["spec"]["inputs"][0]["uri"] == f"oss://{BUCKET}/bc/train/train.csv"  # the spec keeps the file
