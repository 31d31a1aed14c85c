"""The Compare view's REST API over a real Jupyter server and a real local control plane."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.records import JobRecord
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.storage.uri import OssUri
from tests.server.helpers import PROVENANCE, expect_error, get_json, wait_json

pytestmark = pytest.mark.slow

RUN = "from pai_jupyter import report\nfor s in range(1, 4):\n    report(step=s, loss={scale} / s, accuracy=1 - {scale} / 10)\n"


def _submit(name: str, experiment: str, scale: float) -> JobRecord:
    backend = LocalBackend(PaiConfig())
    spec = JobSpec(name=name, experiment=experiment)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / spec.entry).write_text(RUN.format(scale=scale))
        uri = backend.storage.upload(Path(tmp), OssUri("tests", f"code/{secrets.token_hex(4)}/"))
    return backend.training.submit(spec, str(uri), PROVENANCE)


async def test_experiments_list_and_runs_with_the_best_marked(jp_fetch: Any) -> None:
    worse = _submit("lr-a", "tune-lr", 2.0)
    better = _submit("lr-b", "tune-lr", 1.0)
    _submit("base", "baseline", 1.0)
    listing = await get_json(jp_fetch, "experiments")
    assert [(e["name"], e["runs"]) for e in listing["experiments"]] == [("baseline", 1), ("tune-lr", 2)]
    assert all(isinstance(e["last_created_at"], float) for e in listing["experiments"])

    def finished(data: dict[str, Any]) -> bool:
        return all(r["job"]["state"] == "Succeeded" and r["final"].get("loss") for r in data["runs"])

    shown = await wait_json(jp_fetch, ("experiments", "tune-lr"), finished)
    assert shown["name"] == "tune-lr" and [r["job"]["id"] for r in shown["runs"]] == [better.id, worse.id]
    run = shown["runs"][0]
    assert set(run) == {"job", "hyperparameters", "final", "commit", "dirty", "duration_s"}
    assert run["job"]["experiment"] == "tune-lr" and run["commit"] == "0123456789abcdef0123" and run["dirty"]
    assert run["final"]["loss"] == pytest.approx(1.0 / 3) and run["duration_s"] > 0
    assert shown["best"] == better.id and shown["metric"] == "loss" and shown["maximize"] is False

    by_acc = await get_json(jp_fetch, "experiments", "tune-lr", params={"metric": "accuracy", "sort": "accuracy"})
    assert by_acc["best"] == better.id and by_acc["maximize"] is True
    asc = await get_json(jp_fetch, "experiments", "tune-lr", params={"sort": "loss", "desc": "1"})
    assert [r["job"]["id"] for r in asc["runs"]] == [worse.id, better.id]

    chinese = _submit("zh", "实验-一", 1.0)  # a notebook named in Chinese
    named = await get_json(jp_fetch, "experiments", "实验-一")  # jp_fetch URL-encodes it
    assert named["name"] == "实验-一" and [r["job"]["id"] for r in named["runs"]] == [chinese.id]

    body = await expect_error(jp_fetch, 404, "experiments", "missing")
    assert "has no runs" in body["error"]
    await expect_error(jp_fetch, 400, "experiments", "tune-lr", params={"desc": "maybe"})
