"""``%%pai_pipeline`` / ``%pai_pipelines`` in a real IPython shell and ``jupyter pai pipelines``
as a subprocess, on the real local backend."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from tests.conftest import run_cli as pai

sys.path.insert(0, str(Path(__file__).parent))
from scripts import write_scripts

CELL = """
# one step per line, with the options of %%pai_train / %pai_deploy
preprocess: --script hello.py
train: --script wait_for_go.py --input data=preprocess.output \\
       --env GO_FILE={go} --max-restarts 0
"""


@pytest.mark.slow
def test_magic_defines_runs_and_lists_then_cli_steers(
    ip: InteractiveShell, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_scripts(workdir)
    go = tmp_path / "go"
    go.write_text("go")
    ip.run_cell_magic("pai_pipeline", "nightly --schedule '0 3 * * *' --run --wait --as p", CELL.format(go=go))
    out = capsys.readouterr().out
    assert "Registered pipeline nightly (preprocess -> train); available as `p`." in out
    assert "Run #1 of nightly" in out and ": succeeded" in out
    assert "[     ok] train (train)  job job-" in out
    spec = ip.user_ns["p"].spec()
    assert spec.step("train").job.env["GO_FILE"] == str(go) and spec.step("train").job.max_restarts == 0

    ip.run_line_magic("pai_pipelines", "")
    listed = capsys.readouterr().out
    assert "nightly" in listed and "cron 0 3 * * *" in listed and "#1 succeeded" in listed

    shown = json.loads(pai("pipelines", "show", "nightly", "--json").stdout)
    assert shown["pipeline"]["state"] == "active" and len(shown["runs"]) == 1
    assert shown["pipeline"]["next_run"] is not None
    second = json.loads(pai("pipelines", "run", "nightly", "--wait", "--json").stdout)
    assert second["state"] == "succeeded" and second["number"] == 2
    assert "#2" in pai("pipelines", "runs", "nightly").stdout
    assert "succeeded" in pai("pipelines", "runs", "nightly", "--run", second["id"]).stdout
    assert json.loads(pai("pipelines", "pause", "nightly", "--json").stdout)["state"] == "paused"
    assert json.loads(pai("pipelines", "resume", "nightly", "--json").stdout)["state"] == "active"
    pai("pipelines", "delete", "nightly", "--yes")
    assert "No pipelines" in pai("pipelines", "list").stdout
    missing = pai("pipelines", "show", "nightly", check=False)
    assert missing.returncode == 2 and "no pipeline named 'nightly'" in missing.stderr


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("train: --script hello.py --wrokers 2", "Did you mean '--workers'?"),
        ("fit: --script hello.py", "is not a step"),
        ("train: --script hello.py --input data=prep.output", "names no step 'prep'"),
        (
            "train a: --script hello.py --input d=b.output\ntrain b: --script hello.py --input d=a.output",
            "cycle: a -> b -> a",
        ),
        ("train: --script nope.py", "script nope.py does not exist"),
        ("eval: --script hello.py --gate 'open(1) > 0'", "function call"),
        ("deploy: svc --model train.model", "needs processor="),
    ],
)
def test_bad_definitions_are_one_line(ip: InteractiveShell, workdir: Path, cell: str, message: str) -> None:
    write_scripts(workdir)
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("pai_pipeline", "bad", cell)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_registered_definition_carries_its_provenance_and_code(pai_home: Path, workdir: Path) -> None:
    import subprocess

    from pai_jupyter.api.pipelines import Pipeline, get_pipeline

    write_scripts(workdir)
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "s"],
    ):
        subprocess.run(["git", *args], cwd=workdir, check=True)
    (workdir / "hello.py").write_text("print('changed, not committed')\n")
    Pipeline("prov").train("hello.py").register()
    spec = get_pipeline("prov")["pipeline"]["spec"]
    prov = spec["provenance"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True, text=True).stdout.strip()
    assert prov["git_commit"] == head and prov["git_dirty"] is True and prov["python"]
    assert prov["code_ref"].startswith("refs/pai/jobs/pipeline-prov-")
    shown = subprocess.run(
        ["git", "show", f"{prov['code_commit']}:hello.py"], cwd=workdir, capture_output=True, text=True
    )
    assert (
        shown.stdout == "print('changed, not committed')\n"
    )  # the code that will run, uncommitted change included
    assert spec["steps"][0]["code_uri"].startswith("oss://") and prov["uri"].endswith("provenance.json")
