from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import python_env


def test_report_batches_to_the_metrics_file_and_flushes_at_exit(tmp_path: Path) -> None:
    metrics = tmp_path / "m" / "worker-0.1.jsonl"
    script = (
        "from pai_jupyter import report\n"
        "for i in range(1000):\n"
        "    report(step=i, loss=1.0 / (i + 1), acc=float('nan'))\n"
    )
    env = {**python_env(), "PAI_METRICS_FILE": str(metrics), "PAI_METRICS_FLUSH": "5"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1000))
    assert lines[9]["metrics"] == {"loss": 0.1}  # non-finite values are dropped, not stored as NaN


def test_report_outside_a_job_keeps_values_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from pai_jupyter import reporting

    monkeypatch.delenv("PAI_METRICS_FILE", raising=False)
    before = len(reporting.reported())
    reporting.report(step=3, loss=0.5)
    assert reporting.reported()[before:][0]["metrics"] == {"loss": 0.5}
    with pytest.raises(TypeError, match="loss='high' is not a number"):
        reporting.report(step=1, loss="high")
