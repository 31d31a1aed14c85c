"""The magics in a real IPython shell: parsing errors, submission, the job object."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

TRAIN = """
import os
from pai_jupyter import report
for step in range(3):
    report(step=step, loss=1.0 / (step + 1))
print("trained on rank", os.environ["RANK"])
"""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--workers 0", "0 is not in the range 1<=x<=256"),
        ("--workers two", "'two' is not a valid integer"),
        ("--framework caffe", "'caffe' is not one of"),
        ("--data s3://bucket/x", "is not an oss:// URI"),
        ("--data oss://demo/../x", "'..' path segment"),
        ("--output oss://UPPER/x", "invalid bucket name"),
        ("--wrkers 2", "--wrkers"),
        ("--checkpoint-interval soon", "is not a duration"),
        ("--max-run-time 1h30", "'1h30' is ambiguous: the last number has no unit (write '1h30m'"),
        ("--max-run-time 99999999999999999999h", "is out of range (the accepted range is 0s to 365d)"),
        ("--checkpoint-interval 1e400", "is not a duration"),
        ("--name 'has space'", "job name 'has space' is not valid"),
        ("--as 1abc", "'1abc' is not a Python variable name"),
        ("--env NOEQUALS", "is not KEY=VALUE"),
        ("--workers 2 'unclosed", "could not parse the options"),
    ],
)
def test_bad_options_are_one_line_usage_errors(ip: InteractiveShell, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pai_train", line, TRAIN)
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "Traceback" not in text


def test_unknown_option_suggests_the_right_one(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"(?i)did you mean.*'?--workers"):
        ip.run_cell_magic("pai_train", "--worker 2", TRAIN)


def test_empty_cell_is_refused(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="the cell is empty"):
        ip.run_cell_magic("pai_train", "--name x", "   \n")


def test_help_prints_options(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell_magic("pai_train", "--help", TRAIN)
    out = capsys.readouterr().out
    assert "--workers" in out and "--checkpoint-interval" in out


@pytest.mark.slow
def test_train_wait_runs_the_cell_as_a_job(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell_magic("pai_train", "--name magic-job --workers 2 --wait --as trained", TRAIN)
    job = ip.user_ns["trained"]
    assert job.status() == "Succeeded"
    assert "trained on rank 1" in job.logs(worker=1)
    assert [v for _, v in job.metric("loss")] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert job.provenance["entry"]["sha256"]
    assert job.outputs["model"].startswith("oss://")
    out = capsys.readouterr().out
    assert f"Submitted {job.id} (magic-job)" in out and "Succeeded" in out

    ip.run_line_magic("pai_jobs", "")
    listed = capsys.readouterr().out
    assert job.id in listed and "Showing 1 of 1 job." in listed
    ip.run_line_magic("pai_jobs", "--search MAGIC-J")
    assert job.id in capsys.readouterr().out
    ip.run_line_magic("pai_job", f"{job.id} --logs --worker 1")
    shown = capsys.readouterr().out
    assert "magic-job" in shown and "trained on rank 1" in shown


@pytest.mark.slow
def test_train_without_wait_returns_at_once(ip: InteractiveShell) -> None:
    ip.run_cell_magic("pai_train", "--name quick", "import time; time.sleep(30)")
    job = ip.user_ns["_pai_job"]
    assert job.record.state in ("Queuing", "Running")
    job.stop()
    assert job.wait(timeout=20, raise_on_failure=False).record.state == "Stopped"


@pytest.mark.slow
def test_wait_on_a_failing_job_raises_a_clear_error(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"failed: worker 0 exited with code 1: .*ZeroDivisionError"):
        ip.run_cell_magic("pai_train", "--name broken --wait", "1 / 0")


def test_unknown_job_is_a_usage_error(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="job 'job-missing' does not exist"):
        ip.run_line_magic("pai_job", "job-missing")


def test_config_magic_selects_the_backend(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "PaiConfig.backend = 'nope'")
    with pytest.raises(UsageError, match="backend 'nope' is unknown"):
        ip.run_line_magic("pai_jobs", "")


def test_options_continued_with_backslashes_are_joined(ip: InteractiveShell) -> None:
    # IPython passes only the first line of a cell magic; continuation lines arrive in the cell.
    result = ip.run_cell("%%pai_train --name cont \\\n    --framework python \\\n    --workers 0\nprint('hi')\n")
    assert isinstance(result.error_in_exec, UsageError) and "0 is not in the range" in str(result.error_in_exec)
    from pai_jupyter.frontends.options.common import join_continuation

    assert join_continuation("--a 1 \\", "   --b 2 \\\n --c 3\nprint(1)\n") == (
        "--a 1  --b 2  --c 3",
        "print(1)\n",
    )
