"""Magics and CLI on the aliyun backend: the same commands, against the fake DLC/OSS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.aliyun.conftest import AliyunFakes

pytestmark = pytest.mark.slow

TRAIN = """
import os
from pai_jupyter import report
for step in range(3):
    report(step=step, loss=1.0 / (step + 1))
print("trained on rank", os.environ["RANK"])
"""


@pytest.fixture
def ip(fakes: AliyunFakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("PAI_JUPYTER_BACKEND", "local")  # the %config below must be what selects aliyun
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    yield shell
    shell.extension_manager.unload_extension("pai_jupyter")
    InteractiveShell.clear_instance()


def test_magics_run_a_job_on_dlc(
    ip: InteractiveShell, fakes: AliyunFakes, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("config", "PaiConfig.backend = 'aliyun'")
    ip.run_cell_magic("pai_train", "--name magic-aliyun --workers 2 --wait --as trained", TRAIN)
    job = ip.user_ns["trained"]
    assert job.record.backend == "aliyun" and job.status() == "Succeeded"
    assert job.id in fakes.dlc.jobs
    assert "trained on rank 1" in job.logs(worker=1)
    assert [v for _, v in job.metric("loss")] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert f"Submitted {job.id} (magic-aliyun)" in capsys.readouterr().out
    ip.run_line_magic("pai_jobs", "")
    assert job.id in capsys.readouterr().out
    ip.run_line_magic("pai_job", f"{job.id} --logs --worker 1")
    assert "trained on rank 1" in capsys.readouterr().out


def test_cli_lists_and_shows_dlc_jobs(fakes: AliyunFakes, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pai_jupyter.frontends.cli.main import cli

    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(script), "--name", "cli-aliyun", "--wait", "--backend", "aliyun"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["jobs", "list", "--json", "--backend", "aliyun"])
    jobs = json.loads(listed.output)
    (job,) = [j for j in (jobs["jobs"] if isinstance(jobs, dict) else jobs) if j["name"] == "cli-aliyun"]
    assert job["state"] == "Succeeded" and job["backend"] == "aliyun" and job["id"] in fakes.dlc.jobs
    shown = runner.invoke(cli, ["jobs", "events", job["id"], "--backend", "aliyun"])
    assert shown.exit_code == 0 and "Succeeded" in shown.output


TRAIN_ONNX = """
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from pai_jupyter import report

w = numpy_helper.from_array(np.eye(4, 2, dtype=np.float32), "W")
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["y"])], "m",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])], initializer=[w],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save(model, os.path.join(os.environ["PAI_OUTPUT_MODEL"], "model.onnx"))
report(step=0, loss=0.1)
"""


def test_notebook_to_endpoint_on_aliyun(
    ip: InteractiveShell, fakes: AliyunFakes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Train on DLC, deploy the job's model to EAS by job id, predict, roll out v2, roll back."""
    ip.run_line_magic("config", "PaiConfig.backend = 'aliyun'")
    ip.run_cell_magic("pai_train", "--name onnx-train --wait --as trained", TRAIN_ONNX)
    job = ip.user_ns["trained"]
    sig = '{"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}]}'
    ip.run_line_magic("pai_deploy", f"digits --model {job.id} --no-widget --signature '{sig}' --as svc")
    svc = ip.user_ns["svc"]
    out = capsys.readouterr().out
    assert "Deployed digits v1 (onnx) on aliyun." in out
    assert f"endpoint: http://{fakes.eas.endpoint}/api/predict/digits" in out  # type: ignore[union-attr]
    version = svc.record.versions[0]
    assert version.job_id == job.id and version.model_uri == job.outputs["model"]
    assert version.provenance_uri == job.outputs["provenance"]  # written beside the model on success
    create = fakes.eas.calls("CreateService")[0].json  # type: ignore[union-attr]
    assert create["model_path"] == job.outputs["model"] and create["labels"]["pai-jupyter.job"] == job.id
    # The fake runs the deployed container: x @ eye(4, 2) is the model's real answer, not an echo.
    assert svc.predict([[1, 2, 3, 4]])["outputs"] == [[1.0, 2.0]]
    ip.run_line_magic(
        "pai_deploy",
        f"digits --model {job.id} --no-widget --plan 50,100 --bake 0s --min-requests 3 --max-p95-ratio 1000 --wait --as svc",
    )
    assert ip.user_ns["svc"].refresh().weights == {2: 100.0}
    ip.run_line_magic("pai_rollback", "digits --to 1")
    assert ip.user_ns["svc"].refresh().weights == {1: 100.0}
