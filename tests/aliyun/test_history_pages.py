"""The job history on DLC: ListJobs' own paging and filters, and jobs older than DLC's 7-day default."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pai_jupyter.api.jobs import job_page, submit
from pai_jupyter.backends.base import Backend
from pai_jupyter.decisions.actions import job_actions
from pai_jupyter.specs.job import JobSpec
from tests.aliyun.conftest import AliyunFakes

pytestmark = pytest.mark.slow


def test_pages_reach_jobs_older_than_a_week(aliyun: Backend, fakes: AliyunFakes, tmp_path: Path) -> None:
    jobs = [submit("print('hi')", JobSpec(name=f"hist-{i}"), cwd=tmp_path, backend=aliyun) for i in range(3)]
    for job in jobs:
        job.wait(timeout=90, poll=0.2)
    dlc_ids = [job.record.outputs.get("dlc_job_id") or job.id for job in jobs]
    # The oldest ran 30 days ago: without StartTime, ListJobs would not return it (fake, as documented).
    fakes.dlc.jobs[dlc_ids[0]].created = time.time() - 30 * 86400
    first = job_page(backend=aliyun, limit=2, q="HIST-")  # DisplayName: fuzzy, any case
    assert first.total == 3 and len(first.jobs) == 2 and first.next == "2"
    second = job_page(backend=aliyun, limit=2, q="hist-", cursor=first.next)
    assert [j.id for j in second.jobs] == [jobs[0].id] and second.next is None
    assert job_page(backend=aliyun, q="hist-", state="Failed").total == 0
    assert job_page(backend=aliyun, q="hist-", framework="xgboost").total == 0  # JobType XGBoostJob
    assert job_page(backend=aliyun, q="hist-", until=time.time() - 86400).total == 1  # EndTime
    assert all(job_actions(j) == ("reproduce",) for j in first.jobs)
