"""Metrics and histories at scale, in the real SQLite store: index plans, downsampling that keeps
the shape, compaction that keeps the summary, keyset pages with search over the whole history."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from pai_jupyter.controlplane.db import Database
from pai_jupyter.controlplane.jobs.store import JobStore
from pai_jupyter.decisions.downsample import Bucket, downsample, fold, m4
from pai_jupyter.errors import ValidationError
from pai_jupyter.records import JobQuery, MetricPoint
from pai_jupyter.specs.job import JobSpec


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(Database(tmp_path / "state.sqlite"))


def _loss(step: int) -> float:
    return math.exp(-step / 20_000) + 0.01 * math.sin(step / 50)


def _add_series(store: JobStore, job_id: str, n: int, spike_at: int | None = None, batch: int = 10_000) -> None:
    t0 = 1.7e9
    for lo in range(0, n, batch):
        points = []
        for step in range(lo, min(n, lo + batch)):
            value = 5.0 if step == spike_at else _loss(step)
            points.append(MetricPoint("loss", value, t0 + step * 0.01, step, 0, "report"))
        store.add_metrics(job_id, points)


def _job(store: JobStore, job_id: str = "job-1", state: str = "Running") -> str:
    store.create_many([(job_id, JobSpec(name="train"), time.time(), state)])
    return job_id


def test_range_query_uses_the_series_index(store: JobStore) -> None:
    plan = store.db.all(
        "EXPLAIN QUERY PLAN SELECT coalesce(step, ts), value, ts FROM metrics WHERE job_id = ? AND name = ?"
        " AND worker = ? AND coalesce(step, ts) >= ? AND coalesce(step, ts) <= ? ORDER BY coalesce(step, ts)",
        ("j", "loss", 0, 10, 20),
    )
    detail = " ".join(r["detail"] for r in plan)
    assert "USING INDEX metrics_series" in detail and "SCAN" not in detail
    plan = store.db.all(
        "EXPLAIN QUERY PLAN SELECT * FROM metric_buckets WHERE job_id = ? AND name = ? AND worker = ?"
        " AND level = ? AND bucket BETWEEN ? AND ?",
        ("j", "loss", 0, 2, 0, 10),
    )
    assert "USING PRIMARY KEY" in " ".join(r["detail"] for r in plan)
    plan = store.db.all(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE 1=1 AND (created_at < ? OR (created_at = ? AND id < ?))"
        " ORDER BY created_at DESC, id DESC LIMIT 51",
        (1.0, 1.0, "x"),
    )
    detail = " ".join(r["detail"] for r in plan)
    assert "jobs_page" in detail and "TEMP B-TREE" not in detail


def test_whole_range_keeps_first_last_min_max_and_shape(store: JobStore) -> None:
    job = _job(store)
    n = 200_000
    _add_series(store, job, n, spike_at=123_457)
    result = store.metric_range(job, ["loss"], budget=1000)
    points = [p for p in result.points if p.name == "loss"]
    assert result.downsampled and 100 < len(points) <= 1000
    steps = [p.step for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == n - 1
    values = {p.step: p.value for p in points}
    assert values[123_457] == 5.0  # the spike survives
    exact = [_loss(s) for s in range(n) if s != 123_457]
    assert min(p.value for p in points) == pytest.approx(min(exact))
    summary = result.summary["loss"]
    assert summary["count"] == n and summary["first_step"] == 0 and summary["last_step"] == n - 1
    assert summary["first"] == _loss(0) and summary["last"] == _loss(n - 1)
    assert summary["max"] == 5.0 and summary["min"] == pytest.approx(min(exact))
    # The shape: in every tenth of the range the downsampled curve reaches the true lows and highs
    # (away from the tenth's edges by two M4 buckets, where a bucket may straddle) and invents none.
    margin = 2 * n // (1000 // 4)

    def true(lo: int, hi: int) -> list[float]:
        return [5.0 if s == 123_457 else _loss(s) for s in range(max(0, lo), min(n, hi))]

    for k in range(10):
        lo, hi = k * n // 10, (k + 1) * n // 10
        got = [p.value for p in points if lo <= p.step < hi]
        core, wide = true(lo + margin, hi - margin), true(lo - margin, hi + margin)
        assert min(got) <= min(core) and max(got) >= max(core)
        assert min(wide) <= min(got) and max(got) <= max(wide)


def test_zoomed_range_is_full_resolution_when_it_fits(store: JobStore) -> None:
    job = _job(store)
    _add_series(store, job, 50_000)
    zoom = store.metric_range(job, ["loss"], start=20_000, end=20_500, budget=1000)
    assert not zoom.downsampled
    assert [p.step for p in zoom.points] == list(range(20_000, 20_501))
    wide = store.metric_range(job, ["loss"], start=1_000, end=41_000, budget=400)
    steps = [p.step for p in wide.points]
    assert wide.downsampled and len(steps) <= 400 and steps[0] == 1_000 and steps[-1] == 41_000
    assert zoom.summary["loss"]["count"] == 50_000  # the summary is the whole series'


def test_ingestion_in_batches_merges_buckets_exactly(store: JobStore) -> None:
    job = _job(store)
    rng = random.Random(7)
    steps = list(range(5_000))
    rng.shuffle(steps)  # out of order, many small batches: buckets merge to the same figures
    for lo in range(0, len(steps), 97):
        store.add_metrics(job, [MetricPoint("acc", s / 10, 1e9 + s, s, 0) for s in steps[lo : lo + 97]])
    rows = store.db.all("SELECT * FROM metric_buckets WHERE job_id = ? AND level = 1 ORDER BY bucket", (job,))
    assert sum(r["count"] for r in rows) == 5_000 and len(rows) == 5_000 // 16 + 1
    assert all(r["first_x"] == r["bucket"] * 16 and r["min_v"] == r["bucket"] * 16 / 10 for r in rows)
    summary = store.metric_range(job, ["acc"]).summary["acc"]
    assert (summary["first"], summary["last"], summary["min"], summary["max"]) == (0.0, 499.9, 0.0, 499.9)


def test_compaction_keeps_summary_and_shape(store: JobStore) -> None:
    job = _job(store, state="Succeeded")
    store.db.execute("UPDATE jobs SET finished_at = ? WHERE id = ?", (time.time() - 40 * 86400, job))
    _add_series(store, job, 60_000, spike_at=33_333)
    before = store.metric_range(job, ["loss"], budget=500)
    assert store.compact_metrics(30 * 86400) == [job]
    assert store.db.one("SELECT COUNT(*) FROM metrics WHERE job_id = ?", (job,))[0] == 0
    after = store.metric_range(job, ["loss"], budget=500)
    assert after.summary == before.summary  # exact figures, not estimates
    assert max(p.value for p in after.points) == 5.0
    assert after.points[0].step == 0 and after.points[-1].step == 59_999
    small = store.metric_range(job, ["loss"], start=100, end=160, budget=500)
    assert small.downsampled and small.points and all(96 <= p.step <= 175 for p in small.points)
    assert store.compact_metrics(30 * 86400) == []  # once


def test_compaction_spares_recent_and_running_jobs(store: JobStore) -> None:
    running = _job(store, "run", "Running")
    recent = _job(store, "recent", "Failed")
    _add_series(store, running, 100)
    _add_series(store, recent, 100)
    assert store.compact_metrics(86400) == []
    assert store.db.one("SELECT COUNT(*) FROM metrics")[0] == 200


def test_pure_m4_keeps_extremes() -> None:
    rng = random.Random(3)
    pts = [(float(i), rng.gauss(0, 1), float(i)) for i in range(10_000)]
    out, cut = downsample(pts, 100)
    assert cut and len(out) <= 100
    whole = fold(pts)
    assert whole is not None
    kept = {(p[0], p[1]) for p in out}
    for p in (whole.first, whole.last, whole.min, whole.max):
        assert (p[0], p[1]) in kept
    assert downsample(pts[:50], 100) == (pts[:50], False)
    assert m4([Bucket.of((1.0, 2.0, 3.0))], 1.0, 1.0, 8) == [(1.0, 2.0, 3.0)]


def test_history_pages_and_search_over_every_job(store: JobStore) -> None:
    t0 = 1.7e9
    jobs = []
    for i in range(230):
        framework = "xgboost" if i % 10 == 0 else "pytorch"
        spec = JobSpec(name=f"exp-{i:04d}", framework=framework)
        jobs.append((f"job-{i:05d}", spec, t0 + i * 60, "Succeeded" if i % 3 else "Failed"))
    store.create_many(jobs)
    first = store.page(JobQuery(limit=50))
    assert first.total == 230 and len(first.jobs) == 50 and first.next
    assert first.jobs[0].name == "exp-0229"
    seen = [j.id for j in first.jobs]
    cursor = first.next
    while cursor:
        page = store.page(JobQuery(limit=50, cursor=cursor))
        seen += [j.id for j in page.jobs]
        cursor = page.next
    assert seen == [f"job-{i:05d}" for i in reversed(range(230))]
    old = store.page(JobQuery(limit=50, q="EXP-0003"))  # beyond the first page, case-insensitive
    assert [j.name for j in old.jobs] == ["exp-0003"] and old.total == 1
    failed_xgb = store.page(JobQuery(limit=5, state="Failed", framework="xgboost"))
    assert failed_xgb.total == len([i for i in range(230) if i % 3 == 0 and i % 10 == 0])
    assert all(j.state == "Failed" and j.spec.framework == "xgboost" for j in failed_xgb.jobs)
    window = store.page(JobQuery(since=t0 + 10 * 60, until=t0 + 20 * 60))
    assert window.total == 10
    assert store.page(JobQuery(page=5, limit=50)).jobs[0].name == "exp-0029"
    assert store.page(JobQuery(backend="aliyun")).total == 0
    assert store.page(JobQuery(q="100%")).total == 0  # LIKE wildcards are literal
    with pytest.raises(ValidationError, match="not a page cursor"):
        store.page(JobQuery(cursor="garbage!"))


def test_points_stored_before_the_buckets_existed_are_backfilled_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = JobStore(Database(path))
    job = _job(store, "old-job", "Succeeded")
    # Raw rows as an older version wrote them (no buckets, no summary), then a restart.
    store.db.executemany(
        "INSERT INTO metrics(job_id, worker, ts, step, name, value, source) VALUES (?, 0, ?, ?, 'loss', ?, 'report')",
        [(job, 1e9 + s, s, _loss(s)) for s in range(3_000)],
    )
    store.db.execute("DELETE FROM migrations WHERE name = 'metrics-2-backfill'")
    store.db.close()
    reopened = JobStore(Database(path))
    summary = reopened.metric_range(job, ["loss"], budget=100).summary["loss"]
    assert summary["count"] == 3_000 and summary["last_step"] == 2_999 and summary["first"] == _loss(0)
    reopened.db.close()
    again = JobStore(Database(path))  # not twice
    assert again.metric_range(job, ["loss"]).summary["loss"]["count"] == 3_000


def test_retention_comes_from_the_config_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    from pai_jupyter.config import PaiConfig

    monkeypatch.delenv("PAI_JUPYTER_METRICS_RETENTION_DAYS", raising=False)
    assert PaiConfig().sources()["metrics_retention_days"] == (30.0, "default")
    monkeypatch.setenv("PAI_JUPYTER_METRICS_RETENTION_DAYS", "7")
    assert PaiConfig().metrics_retention_days == 7.0
