"""``jupyter pai doctor`` and ``%pai_doctor`` against the fakes: each check, and failures with their fix."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.aliyun.conftest import BUCKET, AliyunFakes

pytestmark = pytest.mark.slow


def _doctor(*args: str) -> tuple[int, str]:
    """The command in its own process, as a user runs it (this checkout's CLI module, as ``run_cli``
    does: an installed ``jupyter-pai`` may be an older install's; test_cli checks the entry point)."""
    command = [sys.executable, "-m", "pai_jupyter.frontends.cli.main"]
    done = subprocess.run([*command, "doctor", *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_doctor_json_reports_every_check(fakes: AliyunFakes) -> None:
    code, out = _doctor("--json")
    report = json.loads(out)
    rows = {c["name"]: c for c in report["checks"]}
    assert code == 0 and report["ok"] is True, out
    assert set(rows) == {
        "credentials",
        "region",
        "workspace",
        "endpoint dlc",
        "endpoint eas",
        "endpoint oss",
        "endpoint workspace",
        "bucket",
        "dlc permission",
        "eas permission",
    }
    assert rows["credentials"]["detail"].startswith("default/env: access key")  # which provider answered
    assert "test-secret" not in out
    assert rows["region"]["detail"].startswith("cn-hangzhou") and rows["workspace"]["detail"].startswith("ws-test")
    assert rows["bucket"]["detail"] == f"oss://{BUCKET}/pai-jupyter/.doctor/: write, read and delete work"
    assert "(public) reachable" in rows["endpoint dlc"]["detail"]
    assert fakes.dlc.calls("ListJobs")[-1].query["PageSize"] == "1"
    assert not list(fakes.oss.path(BUCKET, "pai-jupyter/.doctor").glob("*"))  # the probe object is gone


def test_missing_permission_and_unreachable_endpoint_are_failed_rows_with_a_fix(
    fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.dlc.denied.add("ListJobs")
    fakes.oss.deny_writes.add(BUCKET)
    monkeypatch.setenv("PAI_JUPYTER_EAS_ENDPOINT", "127.0.0.1:1")
    code, out = _doctor("--json")
    rows = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert rows["dlc permission"]["status"] == "fail" and "Forbidden.RAM" in rows["dlc permission"]["detail"]
    assert "AliyunPAIDLCFullAccess" in rows["dlc permission"]["fix"]
    assert rows["bucket"]["status"] == "fail" and "oss:PutObject" in rows["bucket"]["fix"]
    assert rows["endpoint eas"]["status"] == "fail" and "unreachable" in rows["endpoint eas"]["detail"]
    assert "PAI_JUPYTER_EAS_ENDPOINT" in rows["endpoint eas"]["fix"]
    assert rows["eas permission"]["status"] == "fail" and "not tried" in rows["eas permission"]["detail"]
    assert rows["credentials"]["status"] == "ok" and rows["endpoint dlc"]["status"] == "ok"
    code, table = _doctor()
    assert code == 1 and "fix: grant the RAM user or role the AliyunPAIDLCFullAccess policy" in table
    assert "4 check(s) failed" in table  # dlc permission, bucket, endpoint eas, eas permission


def test_doctor_without_credentials(fakes: AliyunFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    code, out = _doctor("--json")
    rows = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1 and rows["credentials"]["status"] == "fail"
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in rows["credentials"]["fix"]


def test_pai_doctor_magic(fakes: AliyunFakes, capsys: pytest.CaptureFixture[str]) -> None:
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("pai_jupyter")
    try:
        shell.run_line_magic("pai_doctor", "")
        out = capsys.readouterr().out
        assert "dlc permission" in out and "All checks passed." in out
        shell.run_line_magic("pai_doctor", "--json")
        assert json.loads(capsys.readouterr().out)["ok"] is True
    finally:
        shell.extension_manager.unload_extension("pai_jupyter")
        InteractiveShell.clear_instance()
