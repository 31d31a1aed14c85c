"""The tutorial notebook, run as a user runs it: a real kernel through nbclient.

It trains a 2-worker DDP job with ``%%pai_train``, reads the model's
provenance, deploys the model with ``%pai_deploy`` and ships a second version
by blue-green rollout under live traffic, all on an isolated local backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_tutorial_runs_end_to_end(pai_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    monkeypatch.setenv("PAI_JUPYTER_JOB_REFS", "0")  # the kernel runs inside this project's own repository
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "examples" / "digits_tutorial.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO / "examples")}}
    ).execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails

    text = "\n".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "Succeeded" in text and "on 2 workers" in text
    assert "distributions recorded" in text and "oss://demo/datasets/digits" in text
    assert "rollout succeeded" in text and "weights now: {2: 100.0}" in text
    accuracy = float(text.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.85
