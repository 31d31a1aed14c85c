# Over 450 lines on purpose: one job state machine (launch, supervise, restart, finish, reattach) in one place.
"""The local job runner: real worker processes, supervised from the event loop.

A job moves through DLC's states: Creating (job folder prepared) -> Queuing
(waiting for a slot under ``max_concurrent``) -> Running -> Succeeded / Failed,
or Stopping -> Stopped, or Restarting (after a preemption) -> Running.

Workers are started in their own session through a tiny ``sh`` wrapper that
writes the exit code to a file, so a restarted control plane can tell how a
worker that outlived it ended; live workers are reattached by pid and start
time. Everything a worker writes (logs, metrics) goes to files in the job
folder; the runner tails them into SQLite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ...checkpoint import CheckpointInfo, latest_valid_entry
from ...errors import ConflictError, NotFoundError, ValidationError
from ...records import FAILED, QUEUING, RESTARTING, RUNNING, STOPPED, STOPPING, SUCCEEDED, JobRecord, MetricPoint
from ...specs.job import JobSpec
from ...storage.local import LocalStorage
from ...storage.uri import OssUri
from ...telemetry.advice import WARMUP, WINDOW, input_bound_advice
from ..private import child_umask
from ..private_view import command as view_command
from ..private_view import support as view_support
from .layout import JobFolders, worker_layout
from .metrics_ingest import MetricsTail
from .sampling import JobSampler
from .store import JobStore
from .worker_env import worker_env

log = logging.getLogger(__name__)

# Runs the worker and leaves its exit code behind, even when we are not its parent.
# Rank 0 first records the environment the job runs with (provenance/record_env.py), never failing it.
_WRAPPER = (
    '[ -z "$PAI_ENV_RECORD" ] || "$0" -m pai_jupyter.provenance.record_env "$PAI_ENV_RECORD" || true; '
    '"$0" "$@"; rc=$?; echo $rc > "$PAI_EXIT_FILE"; exit $rc'
)
ENV_RECORD = "environment.json"  # in the job folder
LOST = -1000  # exit code recorded for a worker that vanished without one


@dataclass
class _Live:
    """What the runner holds in memory for a job it supervises."""

    procs: dict[int, subprocess.Popen] = field(default_factory=dict)
    stop_requested: float | None = None
    preempted: bool = False
    kill_sent: bool = False
    timed_out: bool = False
    attempt_started: float | None = None


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        storage: LocalStorage,
        home: Path,
        *,
        max_concurrent: int = 4,
        default_bucket: str = "pai-jupyter",
        stop_grace: float = 10.0,
        tick: float = 0.25,
        sample_every: float = 2.0,
        advice_window: float = WINDOW,
    ) -> None:
        self.store = store
        self.storage = storage
        self.jobs_dir = home / "jobs"
        self.max_concurrent = max_concurrent
        self.default_bucket = default_bucket
        self.stop_grace = stop_grace
        self.tick = tick
        # Both PaiConfig settings (sample_every, advice_window): tests, demos, slow input pipelines.
        self.sample_every = sample_every
        self.advice_window = advice_window
        self._gpu_trace: dict[str, list[tuple[float, float]]] = {}
        self._advised: set[str] = set()
        self._live: dict[str, _Live] = {}
        self._metrics = MetricsTail(store)
        self._sampler = JobSampler()
        self._tasks: list[asyncio.Task] = []
        self._wake = asyncio.Event()
        self._preempt_at: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self.reattach()
        self._tasks = [
            asyncio.create_task(self._loop(self._supervise, self.tick), name="pai-supervise"),
            asyncio.create_task(self._loop(self._sample, self.sample_every), name="pai-sample"),
        ]

    async def close(self) -> None:
        """Stop supervising; workers keep running and are reattached on restart."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _loop(self, step: object, every: float) -> None:
        while True:
            try:
                step()  # type: ignore[operator]
            except Exception:  # a bug in one tick must not stop supervision
                log.exception("runner tick failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=every)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    # -- submit ------------------------------------------------------------------
    def submit(
        self,
        spec: JobSpec,
        code_uri: str | None,
        provenance: dict,
        python: str | None = None,
        simulate_preemption_after: float | None = None,
    ) -> JobRecord:
        spec.validate()
        inputs = {}
        for item in spec.inputs:
            uri = OssUri.parse(item.uri)
            path = self.storage.path_for(uri)
            if not path.exists():
                raise NotFoundError(
                    f"data input {item.uri} does not exist in local storage",
                    f"upload it first: jupyter pai storage cp <local path> {item.uri}",
                )
            inputs[item.channel] = path
        code_dir = None
        if code_uri:
            code_dir = self.storage.path_for(OssUri.parse(code_uri))
            if not code_dir.is_dir():
                raise NotFoundError(f"code snapshot {code_uri} does not exist")
        if python and not Path(python).exists():
            raise ValidationError(f"Python interpreter {python} does not exist on this machine")
        job_id = f"job-{secrets.token_hex(5)}"
        job_dir = self.jobs_dir / job_id
        self.store.create(job_id, spec, code_uri, provenance, python or sys.executable, str(job_dir))
        try:
            outputs = self._prepare(job_id, spec, job_dir, code_dir, inputs)
        except Exception as exc:
            self.store.set_state(job_id, FAILED, f"could not prepare the job folder: {exc}")
            raise
        self.store.set_state(job_id, QUEUING, outputs=outputs)
        view = view_support()
        if view.available:
            self.store.event(job_id, "layout", "the script sees PAI's /ml layout in a private view of its own")
        else:
            self.store.event(
                job_id,
                "warning",
                f"no private /ml view for this job: {view.reason}. PAI_* variables point at the job's own"
                " folders; a script that writes to /ml/... directly does not reach --output",
                {"layout": "host folders", "reason": view.reason},
            )
        if simulate_preemption_after is not None:
            self._preempt_at[job_id] = simulate_preemption_after
            self.store.event(
                job_id, "info", f"preemption will be simulated {simulate_preemption_after:g}s after start"
            )
        self._wake.set()
        return self.store.get(job_id)

    def _prepare(
        self, job_id: str, spec: JobSpec, job_dir: Path, code_dir: Path | None, inputs: dict[str, Path]
    ) -> dict[str, str]:
        for sub in ("logs", "metrics", "exit", "input", "config"):
            (job_dir / sub).mkdir(parents=True, exist_ok=True)
        # /ml/input/config/hyperparameters.json: every value a string, written even when empty
        # (pai/job/_local_training_job.py, prepare_input_config).
        (job_dir / "config" / "hyperparameters.json").write_text(json.dumps(spec.hyperparameters))
        code = job_dir / "code"
        if code_dir is not None:
            shutil.copytree(code_dir, code, symlinks=True)
        else:
            code.mkdir()
        for channel, path in inputs.items():
            (job_dir / "input" / channel).symlink_to(path, target_is_directory=path.is_dir())
        base = OssUri(self.default_bucket, f"jobs/{job_id}/")
        output = OssUri.parse(spec.output).as_dir() if spec.output else base.join("model").as_dir()
        checkpoints = (
            OssUri.parse(spec.checkpoint).as_dir() if spec.checkpoint else base.join("checkpoints").as_dir()
        )
        tensorboard = base.join("tensorboard").as_dir()
        for uri in (output, checkpoints, tensorboard):
            self.storage.path_for(uri).mkdir(parents=True, exist_ok=True)
        return {
            "model": str(output),
            "checkpoints": str(checkpoints),
            "tensorboard": str(tensorboard),
            "provenance": str(output.join("provenance.json")),
            "logs": str(job_dir / "logs"),
            "job_dir": str(job_dir),
        }

    # -- control -----------------------------------------------------------------
    def stop(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id)
        if record.is_terminal:
            return record
        if record.state == QUEUING:
            self.store.set_state(job_id, STOPPED, "stopped before it started")
            return self.store.get(job_id)
        live = self._live.setdefault(job_id, _Live())
        live.stop_requested = time.time()
        self.store.set_state(job_id, STOPPING, "stop requested")
        self._signal_workers(job_id, signal.SIGTERM)
        self._wake.set()
        return self.store.get(job_id)

    def preempt(self, job_id: str) -> JobRecord:
        """Kill the workers the way a spot reclaim does (no warning, SIGKILL)."""
        record = self.store.get(job_id)
        if record.state != RUNNING:
            raise ConflictError(f"job {job_id} is {record.state}; only a Running job can be preempted")
        live = self._live.setdefault(job_id, _Live())
        live.preempted = True
        self.store.event(job_id, "preemption", f"instance reclaimed during attempt {record.attempt}")
        self._signal_workers(job_id, signal.SIGKILL)
        self._wake.set()
        return self.store.get(job_id)

    def _signal_workers(self, job_id: str, sig: signal.Signals) -> None:
        for worker in self.store.workers(job_id):
            pid = worker["pid"]
            if pid and worker["exit_code"] is None:
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    # -- scheduling and supervision -------------------------------------------------
    def _supervise(self) -> None:
        active = self.store.ids_in_states(RUNNING, STOPPING, RESTARTING)
        for job_id in active:
            self._check(job_id)
        slots = self.max_concurrent - len(self.store.ids_in_states(RUNNING, STOPPING, RESTARTING))
        for job_id in self.store.ids_in_states(QUEUING)[: max(0, slots)]:
            self._launch(job_id)

    def _launch(self, job_id: str) -> None:
        row = self.store.row(job_id)
        record = self.store.get(job_id)
        spec = record.spec
        job_dir = Path(row["job_dir"])
        ports = _free_ports(spec.workers + 1)
        live = self._live.setdefault(job_id, _Live())
        live.preempted, live.kill_sent = False, False
        live.attempt_started = time.time()
        working_dir = job_dir / "code" / spec.workdir
        python = row["python"] or sys.executable
        entry = working_dir / spec.entry
        if not entry.exists():
            self.store.set_state(job_id, FAILED, f"entry script {spec.entry} is missing from the code snapshot")
            return
        layout = worker_layout(spec, self._folders(job_dir, record), view=view_support().available)
        command = [python, "-u", spec.entry, *spec.args]
        if layout.binds:
            command = view_command(command, list(layout.binds), cwd=layout.cwd)
        for rank in range(spec.workers):
            exit_file = job_dir / "exit" / f"worker-{rank}.{record.attempt}"
            env = worker_env(
                spec=spec,
                job_id=job_id,
                rank=rank,
                master_port=ports[0],
                worker_ports=ports[1:],
                locations=layout.locations,
                metrics_file=job_dir / "metrics" / f"worker-{rank}.{record.attempt}.jsonl",
                exit_file=exit_file,
                attempt=record.attempt,
            )
            if rank == 0:
                env["PAI_ENV_RECORD"] = str(job_dir / ENV_RECORD)
            log_path = job_dir / "logs" / f"worker-{rank}.log"
            with open(log_path, "ab") as log_file:
                if record.attempt > 1:
                    log_file.write(f"\n=== attempt {record.attempt} ===\n".encode())
                    log_file.flush()
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", _WRAPPER, *command],
                    cwd=working_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    umask=child_umask(),
                )
            live.procs[rank] = proc
            self.store.set_worker(
                job_id, rank, state=RUNNING, pid=proc.pid, pid_started=_create_time(proc.pid), exit_code=None
            )
        self.store.set_state(job_id, RUNNING, started_at=row["started_at"] or time.time())

    def _folders(self, job_dir: Path, record: JobRecord) -> JobFolders:
        storage_path = self.storage.path_for
        tensorboard = record.outputs.get("tensorboard")
        return JobFolders(
            code=job_dir / "code",
            config=job_dir / "config",
            inputs={i.channel: job_dir / "input" / i.channel for i in record.spec.inputs},
            model=storage_path(OssUri.parse(record.outputs["model"])),
            checkpoints=storage_path(OssUri.parse(record.outputs["checkpoints"])),
            # Jobs submitted before TensorBoard had a channel: a folder in the job's own.
            tensorboard=storage_path(OssUri.parse(tensorboard)) if tensorboard else job_dir / "tensorboard",
        )

    def _check(self, job_id: str) -> None:
        record = self.store.get(job_id)
        live = self._live.setdefault(job_id, _Live())
        job_dir = Path(self.store.row(job_id)["job_dir"])
        codes: dict[int, int | None] = {}
        for worker in self.store.workers(job_id):
            rank = worker["rank"]
            if worker["exit_code"] is not None:
                codes[rank] = worker["exit_code"]
                continue
            code = self._poll(job_id, rank, worker, job_dir, record.attempt)
            codes[rank] = code
            if code is not None:
                state = SUCCEEDED if code == 0 else FAILED
                self.store.set_worker(job_id, rank, state=state, exit_code=code)
                live.procs.pop(rank, None)
        self._metrics.ingest(job_id, job_dir, record.attempt, range(record.spec.workers))
        alive = [r for r, c in codes.items() if c is None]
        now = time.time()

        if record.state == STOPPING:
            if not alive:
                if live.timed_out:
                    limit = record.spec.max_run_time or 0
                    self.store.set_state(
                        job_id, FAILED, f"exceeded its max run time of {limit:g}s and was stopped"
                    )
                else:
                    self.store.set_state(job_id, STOPPED, "stopped by the user")
                self._finish(job_id)
            elif live.stop_requested and now - live.stop_requested > self.stop_grace and not live.kill_sent:
                live.kill_sent = True
                self._signal_workers(job_id, signal.SIGKILL)
            return

        if live.preempted or record.state == RESTARTING:
            if alive:
                return
            self._restart_after_preemption(job_id, record)
            return

        preempt_after = self._preempt_at.get(job_id)
        if preempt_after is not None and record.started_at and now - record.started_at >= preempt_after:
            del self._preempt_at[job_id]
            self.preempt(job_id)
            return

        failed = {r: c for r, c in codes.items() if c not in (None, 0)}
        if failed:
            rank, code = min(failed.items())
            if alive:
                self._signal_workers(job_id, signal.SIGTERM)
            tail = _tail(job_dir / "logs" / f"worker-{rank}.log", 20)
            how = f"was killed by signal {-code}" if code < 0 and code != LOST else f"exited with code {code}"
            if code == LOST:
                how = "vanished while the control plane was down"
            last = " | ".join(line for line in tail[-3:] if line.strip())
            self.store.set_state(job_id, FAILED, f"worker {rank} {how}" + (f": {last}" if last else ""))
            self.store.event(job_id, "error", f"last log lines of worker {rank}", {"worker": rank, "log": tail})
            self._finish(job_id)
            return
        if not alive:
            self.store.set_state(job_id, SUCCEEDED)
            self._finish(job_id)
            return
        max_run = record.spec.max_run_time
        if max_run and record.started_at and now - record.started_at > max_run:
            self.store.event(job_id, "error", f"job exceeded its max run time of {max_run:g}s")
            live.stop_requested, live.timed_out = now, True
            self.store.set_state(job_id, STOPPING, "exceeded max run time")
            self._signal_workers(job_id, signal.SIGTERM)

    def _restart_after_preemption(self, job_id: str, record: JobRecord) -> None:
        restarts = record.attempt - 1
        self._attempt_ended(job_id, record, "preempted")
        if restarts >= record.spec.max_restarts:
            self.store.set_state(
                job_id,
                FAILED,
                f"preempted {restarts + 1} times; gave up after max_restarts={record.spec.max_restarts}",
            )
            self._finish(job_id, attempt_recorded=True)
            return
        attempt = record.attempt + 1
        self.store.set_state(
            job_id, RESTARTING, f"resuming from the last checkpoint, attempt {attempt}", attempt=attempt
        )
        checkpoint = self._last_checkpoint(record)
        resume = (
            f"resumes from checkpoint step {checkpoint.step} ({checkpoint.file})"
            if checkpoint
            else "finds no valid checkpoint and starts from scratch"
        )
        self.store.event(
            job_id,
            "restart",
            f"attempt {attempt} starts; it {resume}",
            {"attempt": attempt, "checkpoint_step": checkpoint.step if checkpoint else None},
        )
        for worker in self.store.workers(job_id):
            self.store.set_worker(job_id, worker["rank"], state="Pending", pid=None, exit_code=None)
        self._live[job_id] = _Live()
        self._gpu_trace.pop(job_id, None)  # a new attempt warms up again
        self._launch(job_id)

    def _attempt_ended(self, job_id: str, record: JobRecord, outcome: str) -> None:
        """One ``attempt`` event per attempt: how it ended, how long it ran, how far it got."""
        live = self._live.get(job_id)
        started = (live.attempt_started if live else None) or record.started_at
        duration = time.time() - started if started else None
        last = self.store.last_step_point(job_id, 0)
        checkpoint = self._last_checkpoint(record)
        parts = [f"attempt {record.attempt} {outcome}"]
        if duration is not None:
            parts.append(f"after {duration:.1f}s")
        if last is not None:
            parts.append(f"at step {last[1]}")
        if checkpoint is not None:
            parts.append(f"last checkpoint step {checkpoint.step}")
        self.store.event(
            job_id,
            "attempt",
            ", ".join(parts),
            {
                "attempt": record.attempt,
                "outcome": outcome,
                "duration_s": duration,
                "last_step": last[1] if last else None,
                "checkpoint_step": checkpoint.step if checkpoint else None,
            },
        )

    def _last_checkpoint(self, record: JobRecord) -> CheckpointInfo | None:
        uri = record.outputs.get("checkpoints")
        if not uri:
            return None
        try:
            return latest_valid_entry(self.storage.path_for(OssUri.parse(uri)))
        except (OSError, ValueError):
            return None

    def _poll(self, job_id: str, rank: int, worker: object, job_dir: Path, attempt: int) -> int | None:
        proc = self._live.get(job_id, _Live()).procs.get(rank)
        if proc is not None:
            return proc.poll()
        exit_file = job_dir / "exit" / f"worker-{rank}.{attempt}"
        pid, started = worker["pid"], worker["pid_started"]  # type: ignore[index]
        if pid and _alive(pid, started):
            return None
        if exit_file.exists():
            try:
                return int(exit_file.read_text().strip() or LOST)
            except ValueError:
                return LOST
        return LOST

    def _finish(self, job_id: str, attempt_recorded: bool = False) -> None:
        record = self.store.get(job_id)
        if not attempt_recorded:
            self._attempt_ended(job_id, record, record.state.lower())
        self._live.pop(job_id, None)
        self._preempt_at.pop(job_id, None)
        self._sampler.forget(job_id)
        self._gpu_trace.pop(job_id, None)
        self._advised.discard(job_id)
        job_dir = Path(self.store.row(job_id)["job_dir"])
        self._metrics.ingest(job_id, job_dir, record.attempt, range(record.spec.workers))
        if record.state == SUCCEEDED:
            self._warn_if_no_model(record)
            self._write_provenance(record)
        self._wake.set()

    def _warn_if_no_model(self, record: JobRecord) -> None:
        """A job that succeeded without writing a model most likely wrote it somewhere else."""
        model = self.storage.path_for(OssUri.parse(record.outputs["model"]))
        if model.is_dir() and not any(p.name != "provenance.json" for p in model.iterdir()):
            self.store.event(
                record.id,
                "warning",
                f"the script wrote no model to PAI_OUTPUT_MODEL ({record.outputs['model']})",
                {"output": record.outputs["model"]},
            )

    def add_provenance(self, job_id: str, fields: dict) -> dict:
        """Merge ``fields`` into the stored provenance; rewrite the artefact's copy if already written."""
        provenance = self.store.add_provenance(job_id, fields)
        record = self.store.get(job_id)
        if record.state == SUCCEEDED and record.outputs.get("provenance"):
            self._write_provenance(record)
        return provenance

    def recorded_environment(self, job_id: str) -> dict | None:
        """What the job recorded at start (``ENV_RECORD`` in its folder), None before it has."""
        import json

        path = Path(self.store.row(job_id)["job_dir"]) / ENV_RECORD
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def _write_provenance(self, record: JobRecord) -> None:
        provenance = dict(self.store.provenance(record.id))
        provenance["job"] = {
            "id": record.id,
            "name": record.name,
            "backend": "local",
            "state": record.state,
            "attempts": record.attempt,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "code_uri": record.code_uri,
            "outputs": {k: v for k, v in record.outputs.items() if k not in ("logs", "job_dir")},
        }
        recorded = self.recorded_environment(record.id)
        if recorded is not None:
            provenance["job_environment"] = recorded  # beside the kernel's: what the job ran with
        uri = OssUri.parse(record.outputs["provenance"])
        self.storage.write_bytes(uri, json.dumps(provenance, indent=2, default=str).encode())
        self.store.event(record.id, "info", f"provenance written to {uri}")

    # -- restart ---------------------------------------------------------------
    def reattach(self) -> None:
        """After a control-plane restart: keep live workers, settle the rest."""
        for job_id in self.store.ids_in_states(RUNNING, STOPPING, RESTARTING):
            workers = self.store.workers(job_id)
            alive = [
                w for w in workers if w["pid"] and w["exit_code"] is None and _alive(w["pid"], w["pid_started"])
            ]
            if alive:
                self.store.event(
                    job_id, "info", f"control plane restarted; reattached {len(alive)} live worker(s)"
                )
            else:
                self.store.event(
                    job_id, "warning", "control plane restarted; settling workers from their exit files"
                )
            if self.store.row(job_id)["state"] == STOPPING:
                self._live[job_id] = _Live(stop_requested=time.time())
        for job_id in self.store.ids_in_states(RESTARTING):
            self.store.set_state(job_id, QUEUING, "requeued after a control-plane restart")

    # -- telemetry -------------------------------------------------------------
    def _sample(self) -> None:
        for job_id in self.store.ids_in_states(RUNNING):
            pids = {w["rank"]: w["pid"] for w in self.store.workers(job_id) if w["pid"] and w["exit_code"] is None}
            points = self._sampler.sample(job_id, pids)
            self.store.add_metrics(job_id, points)
            self._advise(job_id, points)

    def _advise(self, job_id: str, points: list[MetricPoint]) -> None:
        """Feed this tick's GPU utilisation (mean over workers) to the advice; advise once per job."""
        utils = [p.value for p in points if p.name == "gpu_util"]
        if not utils or job_id in self._advised:
            return
        trace = self._gpu_trace.setdefault(job_id, [])
        trace.append((points[0].ts, sum(utils) / len(utils)))
        warmup = min(WARMUP, self.advice_window)
        advice = input_bound_advice(trace, window=self.advice_window, warmup=warmup)
        if advice is not None:
            self._advised.add(job_id)
            self.store.event(job_id, "advice", advice.message, {"kind": advice.kind, **advice.data})
        # Keep what the next decision can look at: the warm-up start and one window.
        if len(trace) > 2 and trace[-1][0] - trace[1][0] > self.advice_window + warmup:
            del trace[1]

    def running_count(self) -> int:
        return len(self.store.ids_in_states(RUNNING, STOPPING, RESTARTING))


def _free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _alive(pid: int, started: float | None) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.Error:
        return False


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            return fh.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
