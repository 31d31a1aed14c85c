"""The local backend: a client of the embedded control plane.

Storage is the state folder itself (same machine, so files are read and
written directly); training and serving go through the control plane's HTTP
API, which owns all state. The control plane is found through its runtime file
and started in the background on first use when none is running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from ...config import PaiConfig
from ...controlplane.private import open_private, private_dir
from ...errors import BackendUnavailable
from ...records import JobEvent, JobRecord, LogChunk, MetricPoint
from ...specs.job import JobSpec
from ...storage.local import LocalStorage
from ..base import Backend
from .http import JsonClient
from .pipelines import LocalPipelines
from .serving import LocalServing

API = "/api/v1"
START_TIMEOUT = 30.0


def ensure_server(config: PaiConfig) -> dict[str, Any]:
    """Return the runtime info of the control plane, starting one if needed."""
    from ...controlplane.server import running_server

    home = config.home_path
    info = running_server(home)
    if info:
        return info
    if not config.autostart:
        raise BackendUnavailable(
            f"no local control plane is running for {home}", "start one with `jupyter pai server`"
        )
    private_dir(home)
    log_path = home / "server.log"
    env = {**os.environ, "PAI_JUPYTER_HOME": str(home)}
    with open_private(log_path) as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pai_jupyter.controlplane"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives the kernel that started it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        info = running_server(home)
        if info:
            return info
        if proc.poll() is not None:
            # Another client may have won the race to start it.
            info = running_server(home)
            if info:
                return info
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise BackendUnavailable(
                "the local control plane failed to start: " + " | ".join(tail), f"see {log_path}"
            )
        time.sleep(0.05)
    raise BackendUnavailable(f"the local control plane did not start within {START_TIMEOUT:g}s", f"see {log_path}")


class LocalTraining:
    """The training face: one HTTP request to the control plane per call."""

    can_preempt = True

    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def submit(
        self,
        spec: JobSpec,
        code_uri: str,
        provenance: dict[str, Any],
        python: str | None = None,
        simulate_preemption_after: float | None = None,
    ) -> JobRecord:
        body = {
            "spec": spec.to_dict(),
            "code_uri": code_uri,
            "provenance": provenance,
            "python": python or sys.executable,
            "simulate_preemption_after": simulate_preemption_after,
        }
        return JobRecord.from_dict(self.client.post(f"{API}/jobs", body)["job"])

    def get(self, job_id: str) -> JobRecord:
        return JobRecord.from_dict(self.client.get(f"{API}/jobs/{job_id}")["job"])

    def reconcile_job(self, job_id: str) -> JobRecord:
        """The control plane's runner already does every job's work itself: nothing to do here."""
        return self.get(job_id)

    def list(self, limit: int = 100, state: str | None = None, name: str | None = None) -> list[JobRecord]:
        data = self.client.get(f"{API}/jobs", limit=limit, state=state, name=name)
        return [JobRecord.from_dict(j) for j in data["jobs"]]

    def stop(self, job_id: str) -> JobRecord:
        return JobRecord.from_dict(self.client.post(f"{API}/jobs/{job_id}/stop")["job"])

    def preempt(self, job_id: str) -> JobRecord:
        return JobRecord.from_dict(self.client.post(f"{API}/jobs/{job_id}/preempt")["job"])

    def logs(self, job_id: str, worker: int = 0, offset: int = 0, tail: int | None = None) -> LogChunk:
        data = self.client.get(f"{API}/jobs/{job_id}/logs", worker=worker, offset=offset, tail=tail)
        return LogChunk(data["text"], data["next_offset"], data["worker"])

    def metrics(
        self, job_id: str, since: float | None = None, names: list[str] | None = None
    ) -> list[MetricPoint]:
        data = self.client.get(
            f"{API}/jobs/{job_id}/metrics", since=since, names=",".join(names) if names else None
        )
        return [MetricPoint(**m) for m in data["metrics"]]

    def events(self, job_id: str) -> list[JobEvent]:
        return [JobEvent(**e) for e in self.client.get(f"{API}/jobs/{job_id}/events")["events"]]

    def provenance(self, job_id: str) -> dict[str, Any]:
        return self.client.get(f"{API}/jobs/{job_id}/provenance")["provenance"]

    def add_provenance(self, job_id: str, fields: dict[str, Any]) -> None:
        self.client.post(f"{API}/jobs/{job_id}/provenance", fields)


class LocalBackend(Backend):
    id = "local"
    display_name = "Local"
    description = "Embedded control plane on this machine: real processes, HTTP servers and SQLite; no account."
    reconcile_interval = 1.0  # reconcile_* is a plain read here: the control plane drives itself

    def __init__(self, config: PaiConfig) -> None:
        self.config = config
        self.storage = LocalStorage(config.home_path / "storage")
        self._client: JsonClient | None = None
        self._training: LocalTraining | None = None
        self._serving: LocalServing | None = None

    @property
    def client(self) -> JsonClient:
        """Connects (and starts the control plane) on first use, not on import."""
        if self._client is None:
            info = ensure_server(self.config)
            self._client = JsonClient(info["url"], info["token"], "local control plane", reconnect=self._reconnect)
        return self._client

    def _reconnect(self) -> tuple[str, str]:
        """The control plane running now (started again when none runs and autostart is on):
        after a restart it has a new port and token, which only its runtime file knows."""
        info = ensure_server(self.config)
        return info["url"], info["token"]

    @property
    def training(self) -> LocalTraining:  # type: ignore[override]
        if self._training is None:
            self._training = LocalTraining(self.client)
        return self._training

    @property
    def serving(self) -> LocalServing:  # type: ignore[override]
        if self._serving is None:
            self._serving = LocalServing(self.client, self.storage)
        return self._serving

    @property
    def pipelines(self) -> LocalPipelines:  # type: ignore[override]
        return LocalPipelines(self.client)

    def server_info(self) -> dict[str, Any]:
        return self.client.get(f"{API}/health")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._training = self._serving = None
