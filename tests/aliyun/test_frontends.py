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

    from pai_jupyter.cli import cli

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
