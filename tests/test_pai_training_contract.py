"""The PAI training contract on the local backend, met where users meet it: the CLI and the magic.

Scripts written for PAI (the PAI Python SDK's own example, unchanged) hard-code ``/ml/...``
and read ``PAI_*`` variables; each local job sees that layout in a private view bound to its
own folders, so the model lands in ``--output`` and the host's ``/ml`` stays as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.controlplane import private_view
from tests.conftest import run_cli as pai

FIXTURES = Path(__file__).parent / "fixtures" / "pai_sdk"
needs_view = pytest.mark.skipif(
    not private_view.support().available, reason=f"no private views here: {private_view.support().reason}"
)


def _host_ml() -> list[str] | None:
    return sorted(os.listdir("/ml")) if os.path.isdir("/ml") else None


def _events(job_id: str) -> list[dict]:
    return json.loads(pai("jobs", "events", job_id, "--json").stdout)


def _storage_names(uri: str) -> set[str]:
    return {
        o["uri"].rstrip("/").rsplit("/", 1)[-1]
        for o in json.loads(pai("storage", "ls", uri, "--recursive", "--json").stdout)
    }


@needs_view
@pytest.mark.slow
def test_the_pai_sdks_xgboost_example_trains_unchanged(pai_home: Path) -> None:
    """tests/test_data/xgb_train/train.py of the PAI SDK, run as its integration test runs it
    (tests/integration/test_estimator.py, test_xgb_train: inputs train/test, model.json in the model output)."""
    before = _host_ml()
    for name in ("train", "test"):
        pai(
            "storage",
            "cp",
            str(FIXTURES / "breast_cancer_data" / f"{name}.csv"),
            f"oss://demo/bc/{name}/{name}.csv",
        )
    done = json.loads(
        pai(
            "train",
            str(FIXTURES / "xgb_train" / "train.py"),
            "--name",
            "xgb-example",
            "--data",
            "train=oss://demo/bc/train/train.csv",
            "--data",
            "test=oss://demo/bc/test/test.csv",
            "--output",
            "oss://demo/models/xgb/",
            "--wait",
            "--json",
        ).stdout
    )
    logs = pai("jobs", "logs", done["id"]).stdout
    assert done["state"] == "Succeeded", logs
    # The script printed the file inputs it was given: PAI_INPUT_<CHANNEL> names the file in its channel
    # folder (pai/job/_local_training_job.py, prepare_env).
    assert "'train_data': '/ml/input/data/train/train.csv'" in logs
    assert "'test_data': '/ml/input/data/test/test.csv'" in logs
    assert "Save model succeed: model_path=/ml/output/model/" in logs
    assert "model.json" in _storage_names("oss://demo/models/xgb/")
    assert _host_ml() == before
    events = _events(done["id"])
    assert any(e["kind"] == "layout" and "private view" in e["message"] for e in events)
    assert not any("wrote no model" in e["message"] for e in events)


TORCH_STYLE = """
import json, os
import torch

hps_file = os.path.join(os.environ["PAI_CONFIG_DIR"], "hyperparameters.json")
hps = json.load(open("/ml/input/config/hyperparameters.json"))
assert hps == json.load(open(hps_file)) == json.loads(os.environ["PAI_HPS"])
lr = float(os.environ["PAI_HPS_LR"])
model = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=lr)
x, y = torch.randn(16, 2), torch.randn(16, 1)
for _ in range(3):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
torch.save(model.state_dict(), "/ml/output/model/model.pt")
with open(os.path.join(os.environ["PAI_OUTPUT_TENSORBOARD"], "events.out.tfevents.0"), "w") as fh:
    fh.write("loss")
try:
    open(os.path.join(os.environ["PAI_INPUT_TRAIN"], "scribble"), "w")
    input_writable = True
except OSError:
    input_writable = False
print("SEEN" + json.dumps({
    "lr": lr, "input_writable": input_writable, "rows": open("/ml/input/data/train/rows.csv").read(), "optimizer_lr": opt.param_groups[0]["lr"], "hps": hps,
    "batch": os.environ["PAI_HPS_BATCH_SIZE"], "user_args": os.environ["PAI_USER_ARGS"],
    "config_dir": os.environ["PAI_CONFIG_DIR"], "tensorboard": os.environ["PAI_OUTPUT_TENSORBOARD"],
    "model": os.environ["PAI_OUTPUT_MODEL"], "cwd": os.getcwd(), "working_dir": os.environ["PAI_WORKING_DIR"],
}))
"""


@needs_view
@pytest.mark.slow
def test_hp_reaches_a_pytorch_script_through_the_magic(ip: InteractiveShell, tmp_path: Path) -> None:
    before = _host_ml()
    rows = tmp_path / "rows.csv"
    rows.write_text("1,2\n")
    pai("storage", "cp", str(rows), "oss://demo/rows/rows.csv")
    ip.run_cell_magic(
        "pai_train",
        "--name hp-torch --hp lr=0.01 --hp batch-size=32 --data train=oss://demo/rows/"
        " --output oss://demo/models/hp/ --wait --as job",
        TORCH_STYLE,
    )
    job = ip.user_ns["job"]
    logs = job.logs()
    assert job.record.state == "Succeeded", logs
    seen = json.loads(next(line[4:] for line in logs.splitlines() if line.startswith("SEEN")))
    assert seen["lr"] == seen["optimizer_lr"] == 0.01
    assert seen["hps"] == {"lr": "0.01", "batch-size": "32"}  # strings, as the PAI SDK writes them
    assert seen["batch"] == "32" and seen["user_args"] == "--lr 0.01 --batch-size 32"
    assert seen["config_dir"] == "/ml/input/config" and seen["model"] == "/ml/output/model"
    assert seen["tensorboard"] == "/ml/output/tensorboard"
    assert seen["cwd"] == seen["working_dir"] == "/ml/usercode"
    assert seen["rows"] == "1,2\n" and seen["input_writable"] is False  # inputs are read-only, as on DLC
    assert job.record.spec.hyperparameters == {"lr": "0.01", "batch-size": "32"}
    assert job.provenance["spec"]["hyperparameters"] == {"lr": "0.01", "batch-size": "32"}
    assert "model.pt" in _storage_names("oss://demo/models/hp/")
    # TensorBoard: the logs are in the job's own channel, and the CLI says how to open them.
    info = job.tensorboard()
    assert info["url"] is None and (Path(info["logdir"]) / "events.out.tfevents.0").read_text() == "loss"
    assert info["command"] == f"tensorboard --logdir {info['logdir']}"
    text = pai("jobs", "tensorboard", job.id).stdout
    assert f"tensorboard --logdir {info['logdir']}" in text
    assert json.loads(pai("jobs", "tensorboard", job.id, "--json").stdout)["tensorboard"] == info
    shown = pai("jobs", "show", job.id).stdout
    assert "hp         lr=0.01 batch-size=32" in shown and "tensorboard" in shown
    assert _host_ml() == before


def test_bad_hp_is_one_line(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("print(1)")
    proc = pai("train", str(script), "--hp", "lr", check=False)
    assert proc.returncode == 2 and "--hp 'lr' is not NAME=VALUE" in proc.stderr and "Traceback" not in proc.stderr
    proc = pai("train", str(script), "--hp", "a.b=1", "--hp", "a-b=2", check=False)
    assert proc.returncode == 2 and "both become PAI_HPS_A_B" in proc.stderr
    proc = pai("train", str(script), "--hp", "lr=1", "--hp", "lr=2", check=False)
    assert proc.returncode == 2 and "--hp lr is given twice" in proc.stderr


@pytest.mark.slow
def test_a_job_that_writes_no_model_gets_a_warning(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "forgetful.py"
    script.write_text("print('trained, but saved nothing')\n")
    done = json.loads(pai("train", str(script), "--output", "oss://demo/models/none/", "--wait", "--json").stdout)
    assert done["state"] == "Succeeded"
    warnings = [e for e in _events(done["id"]) if e["kind"] == "warning"]
    assert [e["message"] for e in warnings if "model" in e["message"]] == [
        "the script wrote no model to PAI_OUTPUT_MODEL (oss://demo/models/none/)"
    ]
    assert "the script wrote no model to PAI_OUTPUT_MODEL" in pai("jobs", "show", done["id"]).stdout


@pytest.mark.slow
def test_without_a_private_view_the_job_says_so_first_and_host_ml_is_untouched(
    pai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(private_view.DISABLE_ENV, "0")  # the control plane started below inherits it
    before = _host_ml()
    script = tmp_path / "portable.py"
    script.write_text(
        "import json, os\n"
        "open(os.path.join(os.environ['PAI_OUTPUT_MODEL'], 'model.txt'), 'w').write('w')\n"
        "hps = json.load(open(os.path.join(os.environ['PAI_CONFIG_DIR'], 'hyperparameters.json')))\n"
        "print('SEEN' + json.dumps({'model': os.environ['PAI_OUTPUT_MODEL'], 'hps': hps}))\n"
    )
    done = json.loads(
        pai(
            "train", str(script), "--hp", "lr=0.1", "--output", "oss://demo/models/plain/", "--wait", "--json"
        ).stdout
    )
    assert done["state"] == "Succeeded", pai("jobs", "logs", done["id"]).stdout
    events = _events(done["id"])
    (warning,) = [e for e in events if e["kind"] == "warning"]
    assert warning["message"].startswith(
        "no private /ml view for this job: private views are turned off by PAI_JUPYTER_PRIVATE_VIEW=0."
    )
    assert warning["ts"] <= done["started_at"]  # said before the script ran
    seen = json.loads(
        next(x[4:] for x in pai("jobs", "logs", done["id"]).stdout.splitlines() if x.startswith("SEEN"))
    )
    assert seen["hps"] == {"lr": "0.1"}
    assert seen["model"].startswith(str(pai_home)) and not seen["model"].startswith("/ml")
    assert "model.txt" in _storage_names("oss://demo/models/plain/")
    assert "no private /ml view" in pai("jobs", "show", done["id"]).stdout
    assert _host_ml() == before
