"""Deploy options that would mean something else are refused in one line with the accepted range."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--max-body", "0", "0 is out of range; the accepted range is 1 byte to 1G (1073741824 bytes)"),
        ("--max-body", "2G", "2G is out of range; the accepted range is 1 byte to 1G"),
        ("--max-body", "9" * 400, "is out of range; the accepted range is 1 byte to 1G"),
        ("--scale-in-cooldown", "5m30", "'5m30' is ambiguous: the last number has no unit (write '5m30s'"),
        ("--idle-grace", "99999999999999999999h", "is out of range (the accepted range is 0s to 365d)"),
    ],
)
def test_out_of_range_and_ambiguous_values_are_refused(
    pai_home: Path, onnx_model: Path, option: str, value: str, message: str
) -> None:
    proc = run_cli("deploy", "svc", "--model", str(onnx_model), option, value, check=False, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and [line for line in proc.stderr.splitlines() if message in line]
    assert not (pai_home / "state.sqlite").exists()  # refused before anything started
