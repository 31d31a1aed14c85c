"""Paged history, range/budget metrics and state-matching actions, the same on both backends
(the local control plane's SQLite; DLC ListJobs paging and the report() stream on OSS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pai_jupyter.api.jobs import job_page, submit
from pai_jupyter.backends.base import Backend
from pai_jupyter.errors import ConflictError
from pai_jupyter.records import JobQuery
from pai_jupyter.specs.job import JobSpec

pytestmark = pytest.mark.slow

CURVE = """
from pai_jupyter import report
for step in range(600):
    report(step=step, loss=1.0 / (step + 1) + (0.75 if step == 333 else 0.0))
"""


def test_pages_search_range_and_actions(backend: Backend, tmp_path: Path) -> None:
    jobs = [
        submit(CURVE if i == 0 else "print('hi')", JobSpec(name=f"Paged-{i}"), cwd=tmp_path, backend=backend)
        for i in range(3)
    ]
    for job in jobs:
        job.wait(timeout=90, poll=0.2)
    first = job_page(backend=backend, limit=2, q="paged-")
    assert first.total == 3 and [j.id for j in first.jobs] == [jobs[2].id, jobs[1].id] and first.next
    second = job_page(backend=backend, limit=2, q="paged-", cursor=first.next)
    assert [j.id for j in second.jobs] == [jobs[0].id] and second.next is None
    assert [j.id for j in job_page(backend=backend, q="PAGED-0").jobs] == [jobs[0].id]
    assert job_page(backend=backend, q="paged-", state="Failed").total == 0
    assert job_page(JobQuery(q="paged-", backend=backend.id), backend=backend).total == 3

    curve = jobs[0]
    found = curve.metric_range(["loss"], points=40)
    loss = [p for p in found.points if p.name == "loss"]
    assert found.downsampled and len(loss) <= 40
    assert loss[0].step == 0 and loss[-1].step == 599 and any(p.step == 333 for p in loss)
    assert found.summary["loss"]["count"] == 600 and found.summary["loss"]["max"] == 1.0
    assert found.summary["loss"]["last"] == pytest.approx(1 / 600)
    zoom = curve.metric("loss", start=100, end=119)
    assert [s for s, _ in zoom] == list(range(100, 120))
    assert len(curve.metric("loss", all=True)) == 600

    assert curve.actions == ("reproduce",)
    with pytest.raises(ConflictError, match="Succeeded: it cannot stop now"):
        curve.stop()
