"""Checkpoint/spot policy: the pure check, and what %%pai_train and `jupyter pai train` print."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pai_jupyter.decisions.checkpoint_policy import check_checkpoint_policy
from pai_jupyter.specs.job import JobSpec, SpotPolicy
from tests.conftest import run_cli


def notes(**fields: object) -> list[tuple[str, str]]:
    spec = JobSpec(name="p", **fields).validate()  # type: ignore[arg-type]
    return [(n.level, n.message) for n in check_checkpoint_policy(spec)]


def test_plain_short_job_gets_no_notes() -> None:
    assert notes() == []
    assert notes(max_run_time="20m") == []
    assert notes(max_run_time="2h", checkpoint="oss://demo/ck/", checkpoint_interval="10m") == [
        ("info", "this checkpointed job could run on --spot for 60%-70% less than list price (2h x 1 worker(s))")
    ]


def test_spot_without_checkpoint_names_the_expected_loss_and_the_saving() -> None:
    result = notes(spot=True, workers=4, max_run_time="2h")
    assert result[0] == (
        "warning",
        "--spot without --checkpoint: each preemption restarts the job from zero and loses on average half "
        "the run, 1h = 4.00 instance-hours; add --checkpoint oss://... --checkpoint-interval 15m and save "
        "with pai_jupyter.Checkpointer",
    )
    assert result[1] == (
        "info",
        "spot saves 60%-70% of the list price: about 4.80-5.60 of the 8.00 instance-hours at list price "
        "for 2h x 4 worker(s)",
    )
    assert len(result) == 2, "the long-job warning is not repeated on top of the spot one"
    unknown_length = notes(spot=True)
    assert "loses all work since the start" in unknown_length[0][1]
    assert unknown_length[1] == ("info", "spot saves 60%-70% of the list price")


def test_spot_with_a_long_interval_warns_with_half_the_interval() -> None:
    result = notes(spot=True, workers=2, checkpoint="oss://demo/ck/", checkpoint_interval="1h")
    assert result[0] == (
        "warning",
        "--checkpoint-interval 1h on spot: each preemption loses 30m of work (1.00 instance-hours) on average; "
        "use 20m or less",
    )
    assert result[1][0] == "info" and result[1][1].startswith("spot saves 60%-70%")


def test_spot_with_a_short_interval_is_informational() -> None:
    result = notes(spot=True, checkpoint="oss://demo/ck/", checkpoint_interval="15m")
    assert result[0] == (
        "info",
        "checkpoints every 15m: a preemption loses 7m30s of work (0.12 instance-hours) on average",
    )
    assert [level for level, _ in result] == ["info", "info"]
    default = notes(spot=True, checkpoint="oss://demo/ck/")
    assert default[0][1].startswith("checkpoints every 15m (Checkpointer's default)")
    at_limit = notes(spot=True, checkpoint="oss://demo/ck/", checkpoint_interval="20m")
    assert at_limit[0][0] == "info"
    above = notes(spot=True, checkpoint="oss://demo/ck/", checkpoint_interval="21m")
    assert above[0][0] == "warning"


def test_long_job_without_checkpoints_warns() -> None:
    result = notes(max_run_time="3h", workers=2)
    assert result == [
        (
            "warning",
            "the job may run 3h and has no --checkpoint: a failure or preemption late in the run loses up to "
            "6.00 instance-hours; add --checkpoint oss://... and save with pai_jupyter.Checkpointer",
        )
    ]


def test_discount_limit_is_mentioned() -> None:
    spec = JobSpec(name="p", spot=True, spot_policy=SpotPolicy(discount_limit=0.3), checkpoint="oss://demo/ck/")
    assert "caps the price at 30% of list" in str(check_checkpoint_policy(spec)[-1])


@pytest.mark.slow
def test_magic_says_the_policy_before_submitting(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell_magic("pai_train", "--spot --checkpoint-interval 45m --max-run-time 1h --no-widget", "print(1)")
    out, err = capsys.readouterr()
    assert "warning: --spot without --checkpoint" in err
    assert "info: spot saves 60%-70% of the list price: about 0.60-0.70 of the 1.00 instance-hours" in out
    assert out.index("spot saves") < out.index("Submitted job-")


@pytest.mark.slow
def test_cli_train_says_the_same(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print(1)\n")
    args = ["train", str(script), "--spot", "--checkpoint", "oss://demo/ck/", "--checkpoint-interval", "30m"]
    proc = run_cli(*args, timeout=120)
    assert "warning: --checkpoint-interval 30m on spot: each preemption loses 15m of work" in proc.stderr
    assert "info: spot saves 60%-70% of the list price" in proc.stdout
