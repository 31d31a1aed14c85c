"""A 1,000,000-point job and a 10,000-job history, served by the REAL server extension over HTTP.

Builds the state through the store's batch API (``JobStore.create_many``, ``add_metrics`` in
batches of 10,000: the same path the metrics tail uses), starts a Jupyter server with the
extension (which starts the local control plane on that state), and measures, each as the
median of several requests:

- whole-range metrics at a 1,000-point budget (time and bytes on the wire), a zoomed range,
  the list's first page and a server-side search;
- the same reads done the naive way, in the same run: every raw point (``?since=0``, what the
  sidebar asked for before) and the whole history (``limit=10000``, filtered in the browser);
- the control plane's memory (RSS) while serving the scaled reads, and after the naive ones.

Targets (issue 17): whole range <= 200 ms and <= 200 KB; first page and search <= 100 ms.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
POINTS = 1_000_000
JOBS = 10_000
BUDGET = 1000
REPEAT = 9


def _loss(step: int) -> float:
    return math.exp(-step / 200_000) + 0.02 * math.sin(step / 300) + (0.8 if step % 250_000 == 12_345 else 0.0)


def build(home: Path) -> tuple[str, float]:
    """The history and the big job, straight into the store; returns the job id and the ingest rate."""
    sys.path.insert(0, str(REPO))
    from pai_jupyter.controlplane.db import Database
    from pai_jupyter.controlplane.jobs.store import JobStore
    from pai_jupyter.records import MetricPoint
    from pai_jupyter.specs.job import JobSpec

    db = Database(home / "state.sqlite")
    store = JobStore(db)
    t0 = time.time() - JOBS * 600
    frameworks = ("pytorch", "pytorch", "tensorflow", "xgboost", "python")
    states = ("Succeeded", "Succeeded", "Succeeded", "Failed", "Stopped")
    history = [
        (
            f"job-{i:05d}",
            JobSpec(name=f"run-{i:05d}", framework=frameworks[i % 5]),
            t0 + i * 600,
            states[i % 7 % 5],
        )
        for i in range(JOBS)
    ]
    store.create_many(history)
    big = "job-big"
    store.create_many([(big, JobSpec(name="long-run"), time.time(), "Succeeded")])
    started = time.perf_counter()
    ts0 = time.time() - POINTS
    for lo in range(0, POINTS, 10_000):
        store.add_metrics(
            big, [MetricPoint("loss", _loss(s), ts0 + s, s, 0, "report") for s in range(lo, lo + 10_000)]
        )
    rate = POINTS / (time.perf_counter() - started)
    db.close()
    return big, rate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_jupyter(root: Path, home: Path) -> tuple[subprocess.Popen, str, str]:
    token = secrets.token_hex(16)
    port = _free_port()
    config = root / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"pai_jupyter": True}, "open_browser": False}})
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PAI_JUPYTER_HOME": str(home),
        "PAI_JUPYTER_BACKEND": "local",
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--no-browser",
            "--allow-root",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "jupyter.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/pai/api/info", params={"token": token}, timeout=2).ok:
                return proc, url, token
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"jupyter server did not start: {(root / 'jupyter.log').read_text()[-800:]}")


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def get(self, path: str, **params: Any) -> tuple[float, int, int, Any]:
        """(seconds, bytes on the wire, bytes of JSON, body) of one GET."""
        started = time.perf_counter()
        resp = self.session.get(f"{self.url}/pai/api/{path}", params=params, stream=True, timeout=600)
        wire = resp.raw.read(decode_content=False)
        elapsed = time.perf_counter() - started
        resp.raise_for_status()
        if resp.headers.get("Content-Encoding") == "gzip":
            import gzip

            text = gzip.decompress(wire)
        else:
            text = wire
        return elapsed, len(wire), len(text), json.loads(text)

    def median(self, path: str, repeat: int = REPEAT, **params: Any) -> tuple[float, int, int, Any]:
        self.get(path, **params)  # warm: connections, the control plane's first use
        runs = [self.get(path, **params) for _ in range(repeat)]
        return statistics.median(r[0] for r in runs), runs[-1][1], runs[-1][2], runs[-1][3]


def control_plane_rss(home: Path) -> float:
    from pai_jupyter.controlplane.server import running_server

    info = running_server(home)
    return psutil.Process(info["pid"]).memory_info().rss / 2**20 if info else float("nan")


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pai-bench-scale-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")  # where the control plane's runtime file is
        started = time.perf_counter()
        big, rate = build(home)
        rows.append(
            {"name": "build: 10,000 jobs + 1,000,000 points", "value": time.perf_counter() - started, "unit": "s"}
        )
        rows.append(
            {"name": "metric ingestion (batches of 10,000, with buckets)", "value": rate, "unit": "points/s"}
        )
        proc, url, token = start_jupyter(root, home)
        try:
            rows += measure(Client(url, token), big, home)
        finally:
            try:
                requests.post(
                    f"{url}/api/shutdown", headers={"Authorization": f"token {token}"}, timeout=10
                )  # stops the server; the control plane is stopped below
            except requests.RequestException:
                pass
            proc.wait(timeout=30) if proc.poll() is None else None
            stop_control_plane(home)
    return rows


def stop_control_plane(home: Path) -> None:
    """By its pid from the runtime file: after the naive read it may be too busy to answer a request."""
    from pai_jupyter.controlplane.runtime import read_runtime

    info = read_runtime(home)
    if not info:
        return
    try:
        proc = psutil.Process(int(info["pid"]))
        proc.terminate()
        proc.wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        proc.kill()


def measure(client: Client, big: str, home: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    whole_s, whole_wire, whole_json, whole = client.median(f"jobs/{big}/metrics", name="loss", points=BUDGET)
    assert whole["downsampled"] and whole["summary"]["loss"]["count"] == POINTS
    zoom_s, _, _, zoom = client.median(
        f"jobs/{big}/metrics", name="loss", points=BUDGET, start=500_000, end=600_000
    )
    fine_s, _, _, fine = client.median(
        f"jobs/{big}/metrics", name="loss", points=BUDGET, start=500_000, end=500_800
    )
    assert not fine["downsampled"] and len(fine["metrics"]) == 801
    page_s, page_wire, _, page = client.median("jobs", limit=50)
    assert page["total"] == JOBS + 1 and len(page["jobs"]) == 50
    deep_s, _, _, deep = client.median("jobs", limit=50, cursor=_cursor_deep(client))
    search_s, _, _, found = client.median("jobs", q="run-0004", limit=50)  # 10 jobs, all far past page 1
    assert found["total"] == 10
    filter_s, _, _, filtered = client.median("jobs", state="Failed", framework="xgboost", limit=50)
    rss_scaled = control_plane_rss(home)

    # The naive reads, in the same run: every raw point, and the whole history.
    # Every raw point, streamed (all=1, pages of 50,000 between the extension and the control plane).
    naive_s, naive_wire, _, naive = client.get(f"jobs/{big}/metrics", name="loss", all=1)
    assert len(naive["metrics"]) == POINTS
    del naive
    list_s, list_wire = _whole_history(client)
    rss_naive = control_plane_rss(home)
    # Last (it keeps the control plane busy past the extension's timeout): every raw point in one
    # JSON answer, as the sidebar asked before this change (?since=0).
    started = time.perf_counter()
    try:
        client.get(f"jobs/{big}/metrics", name="loss", since=0)
        old_way = f"answered in {time.perf_counter() - started:.1f} s"
    except requests.HTTPError as exc:
        old_way = f"HTTP {exc.response.status_code} after {time.perf_counter() - started:.1f} s"

    def row(name: str, value: float, unit: str, **extra: Any) -> None:
        rows.append({"name": name, "value": value, "unit": unit, **extra})

    row(
        "whole range, 1,000,000 points at a 1,000-point budget (REST)",
        whole_s * 1000,
        "ms",
        baseline=naive_s * 1000,
        baseline_name="every raw point, streamed (all=1)",
        ratio=whole_s / naive_s,
        target="<= 200 ms",
        old_way=f"every raw point in one answer (?since=0, before this change): {old_way}",
    )
    row(
        "whole range: bytes on the wire",
        whole_wire / 1024,
        "KiB",
        baseline=naive_wire / 1024,
        baseline_name="every raw point",
        ratio=whole_wire / naive_wire,
        target="<= 200 KB",
        json_kib=whole_json / 1024,
        points=len(whole["metrics"]),
    )
    row("zoomed range (100,000 steps at 1,000 points)", zoom_s * 1000, "ms", points=len(zoom["metrics"]))
    row("zoomed range (801 steps, full resolution)", fine_s * 1000, "ms", points=len(fine["metrics"]))
    row(
        "job list: first page of 10,001 (50 jobs, total)",
        page_s * 1000,
        "ms",
        baseline=list_s * 1000,
        baseline_name="whole history (pages of 500)",
        ratio=page_s / list_s,
        target="<= 100 ms",
        wire_kib=page_wire / 1024,
        baseline_wire_kib=list_wire / 1024,
    )
    row("job list: a page deep in the history (keyset cursor)", deep_s * 1000, "ms", jobs=len(deep["jobs"]))
    row(
        "server-side search (name substring, 10 old jobs)",
        search_s * 1000,
        "ms",
        baseline=list_s * 1000,
        baseline_name="whole history, searched in the browser",
        ratio=search_s / list_s,
        target="<= 100 ms",
    )
    row("server-side filter (state + framework)", filter_s * 1000, "ms", total=filtered["total"])
    row(
        "control plane RSS after the scaled reads",
        rss_scaled,
        "MiB",
        baseline=rss_naive,
        baseline_name="after the naive reads",
        ratio=rss_scaled / rss_naive if rss_naive else None,
    )
    return rows


def _whole_history(client: Client) -> tuple[float, int]:
    """Every job, in pages of 500 (the REST maximum): what a browser filtering by itself must fetch."""
    started, wire, cursor, seen = time.perf_counter(), 0, None, 0
    while True:
        _, size, _, page = client.get("jobs", limit=500, **({"cursor": cursor} if cursor else {}))
        wire += size
        seen += len(page["jobs"])
        cursor = page["next"]
        if not cursor:
            break
    assert seen == JOBS + 1
    return time.perf_counter() - started, wire


def _cursor_deep(client: Client) -> str:
    """The cursor of page 150 (7,450 jobs in), found by walking the keyset pages once."""
    cursor = None
    for _ in range(149):
        _, _, _, page = client.get("jobs", limit=50, **({"cursor": cursor} if cursor else {}))
        cursor = page["next"]
    assert cursor
    return cursor


if __name__ == "__main__":
    from benchmarks.__main__ import format_row

    for r in run():
        print(format_row(r))
