"""``jupyter pai`` as a subprocess, as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli as pai

SCRIPT = """
import os
from pai_jupyter import report
for step in range(4):
    report(step=step, loss=2.0 / (step + 1))
print("hello from", os.environ["RANK"])
"""


@pytest.mark.slow
def test_train_then_inspect_with_json(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "train_digits.py"
    script.write_text(SCRIPT)
    done = json.loads(pai("train", str(script), "--workers", "2", "--wait", "--json").stdout)
    assert done["state"] == "Succeeded" and done["name"] == "train_digits" and done["spec"]["workers"] == 2
    job_id = done["id"]

    listed = json.loads(pai("jobs", "list", "--json").stdout)
    assert [j["id"] for j in listed["jobs"]] == [job_id] and listed["total"] == 1 and listed["next"] is None
    assert listed["jobs"][0]["actions"] == ["reproduce"]  # finished: no stop
    shown = json.loads(pai("jobs", "show", job_id, "--json").stdout)
    assert shown["job"]["id"] == job_id and shown["provenance"]["entry"]["sha256"]
    assert any(e["message"] == "Succeeded" for e in shown["events"])
    logs = json.loads(pai("jobs", "logs", job_id, "--worker", "1", "--json").stdout)
    assert "hello from 1" in logs["text"]
    metrics = json.loads(pai("jobs", "metrics", job_id, "--name", "loss", "--json").stdout)
    assert [m["value"] for m in metrics["metrics"] if m["worker"] == 0] == [2.0, 1.0, pytest.approx(2 / 3), 0.5]
    assert metrics["summary"]["loss"]["count"] == 4 and not metrics["downsampled"]
    every = json.loads(pai("jobs", "metrics", job_id, "--name", "loss", "--all", "--json").stdout)
    assert sorted(m["value"] for m in every if m["worker"] == 0) == sorted(
        m["value"] for m in metrics["metrics"] if m["worker"] == 0
    )

    text = pai("jobs", "list").stdout
    assert job_id in text and "Succeeded" in text and "Showing 1 of 1 job." in text
    assert "loss" in pai("jobs", "metrics", job_id).stdout
    assert "hello from 0" in pai("jobs", "logs", job_id, "--follow").stdout
    assert "framework python, 2 worker(s)" in pai("jobs", "show", job_id).stdout


@pytest.mark.slow
def test_stop_and_status(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "sleepy.py"
    script.write_text("import time\ntime.sleep(60)\n")
    job_id = json.loads(pai("train", str(script), "--json").stdout)["id"]
    stopped = json.loads(pai("jobs", "stop", job_id, "--json").stdout)
    assert stopped["state"] in ("Stopping", "Stopped")
    status = json.loads(pai("server", "status", "--json").stdout)
    assert status["running"] is True and status["home"] == str(pai_home)
    assert "Stopped the control plane" in pai("server", "stop").stdout
    assert json.loads(pai("server", "status", "--json").stdout)["running"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.py"], "script missing.py does not exist"),
        (["jobs", "show", "job-nope"], "job 'job-nope' does not exist"),
        (["storage", "ls", "s3://x"], "is not an oss:// URI"),
        (["storage", "cp", "a", "b"], "one side must start with oss://"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(pai_home: Path, args: list[str], message: str) -> None:
    proc = pai(*args, check=False)
    assert proc.returncode == 2, proc
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_option_exit_code_2(pai_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("print(1)")
    proc = pai("train", str(script), "--workers", "0", check=False)
    assert proc.returncode == 2 and "0 is not in the range 1<=x<=256" in proc.stderr


def test_storage_cp_and_ls(pai_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("abc")
    pai("storage", "cp", str(data), "oss://demo/data/")
    listed = json.loads(pai("storage", "ls", "oss://demo/data/", "--json").stdout)
    assert [i["uri"] for i in listed] == ["oss://demo/data/a.txt"]
    pai("storage", "cp", "oss://demo/data/a.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "abc"


BIN = Path(sys.executable).parent  # the environment's scripts, whether or not it is on PATH


@pytest.mark.skipif(not (BIN / "jupyter-pai").exists(), reason="package not installed with its scripts")
def test_jupyter_pai_subcommand_is_installed() -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([BIN / "jupyter", "pai", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and "jobs" in proc.stdout and "server" in proc.stdout


@pytest.mark.parametrize("link", ["file", "folder"])
def test_storage_cp_of_a_folder_refuses_a_link_out_of_storage(pai_home: Path, tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("abc")
    pai("storage", "cp", str(data), "oss://demo/data/")
    stored = pai_home / "storage" / "demo" / "data"
    if link == "file":
        (stored / "passwd").symlink_to(outside / "secret.txt")
    else:
        (stored / "etc").symlink_to(outside, target_is_directory=True)
    proc = pai("storage", "cp", "oss://demo/data/", str(tmp_path / "back"), check=False)
    assert proc.returncode == 2
    assert "outside the storage root; nothing was copied" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "back").exists()
    # the single-file copy refused it already
    name = "passwd" if link == "file" else "etc/secret.txt"
    single = pai("storage", "cp", f"oss://demo/data/{name}", str(tmp_path / "one.txt"), check=False)
    assert single.returncode == 2 and "outside the storage root" in single.stderr
