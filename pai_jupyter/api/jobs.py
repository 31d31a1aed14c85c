"""The client API: the one Python API that magics, CLI and server extension use.

``submit()`` captures provenance, snapshots the code, uploads it through the
backend's storage face and submits the job; ``Job`` is what users hold.
Everything here talks to a ``Backend`` (local or aliyun) and nothing else.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..config import current_config
from ..decisions.actions import check_job_action, job_actions
from ..errors import JobFailed, PaiError, ValidationError
from ..records import TERMINAL_STATES, JobEvent, JobPage, JobQuery, JobRecord, MetricPoint, MetricRange
from ..specs.job import JobSpec
from ..storage.uri import OssUri
from .common import BackendArg, resolve_backend
from .naming import default_experiment


class Job:
    """A training job on any backend. Cheap to create; every call asks the backend."""

    def __init__(self, record: JobRecord, backend: Backend) -> None:
        self.record = record
        self.backend = backend
        self._provenance: dict[str, Any] | None = None
        # What the user should know about the submission (a capped diff, files left out of the snapshot).
        self.warnings: list[str] = []
        # Set at submit from a Git repository: {"commit", "ref", ...} of refs/pai/jobs/<id>.
        self.code: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def spec(self) -> JobSpec:
        return self.record.spec

    def refresh(self) -> JobRecord:
        """The job as the backend knows it now (a pure read)."""
        self.record = self.backend.training.get(self.id)
        return self.record

    def reconcile(self) -> JobRecord:
        """Let the backend do the job's pending work (e.g. resubmit a reclaimed spot job), then read it.

        Watchers call this every ``backend.reconcile_interval`` seconds; ``wait`` calls it at each poll.
        """
        self.record = self.backend.training.reconcile_job(self.id)
        return self.record

    def status(self) -> str:
        return self.refresh().state

    @property
    def outputs(self) -> dict[str, str]:
        if not self.record.outputs:
            self.refresh()
        return dict(self.record.outputs)

    @property
    def provenance(self) -> dict[str, Any]:
        if self._provenance is None:
            self._provenance = self.backend.training.provenance(self.id)
        return self._provenance

    def logs(self, worker: int = 0, tail: int | None = None) -> str:
        if tail is not None:
            return self.backend.training.logs(self.id, worker=worker, tail=tail).text
        text, offset = [], 0
        while True:
            chunk = self.backend.training.logs(self.id, worker=worker, offset=offset)
            if not chunk.text:
                return "".join(text)
            text.append(chunk.text)
            offset = chunk.next_offset

    def metrics(self, since: float | None = None, names: list[str] | None = None) -> list[MetricPoint]:
        return self.backend.training.metrics(self.id, since=since, names=names)

    def metric_range(
        self,
        names: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        points: int = 1000,
    ) -> MetricRange:
        """Each series over ``[start, end]`` (steps; time for system metrics) in at most ``points``
        points that keep the curve's shape (first/min/max/last per bucket), plus the exact
        summary figures (first, last, min, max, count) of every series."""
        if points < 4:
            raise ValidationError(f"points must be at least 4, got {points}", "e.g. points=1000")
        return self.backend.training.metric_range(self.id, names=names, start=start, end=end, points=points)

    def iter_metrics(self, names: list[str] | None = None) -> Iterator[MetricPoint]:
        """Every raw point, streamed in pages (memory stays flat for a job of millions of points)."""
        for page in self.backend.training.metric_pages(self.id, names=names):
            yield from page

    def metric(
        self,
        name: str,
        points: int = 1000,
        start: float | None = None,
        end: float | None = None,
        all: bool = False,
        worker: int = 0,
    ) -> list[tuple[int | None, float]]:
        """``[(step, value), ...]`` of one metric of one worker, e.g. ``job.metric("loss")``: at most
        ``points`` points over ``[start, end]`` that keep the curve's shape; ``all=True``: every
        raw point (streamed from the backend)."""
        if all:
            return [(p.step, p.value) for p in self.iter_metrics(names=[name]) if p.worker == worker]
        found = self.metric_range([name], start=start, end=end, points=points)
        return [(p.step, p.value) for p in found.points if p.worker == worker]

    @property
    def actions(self) -> tuple[str, ...]:
        """What can be done to the job in its state (``decisions.actions.job_actions``)."""
        return job_actions(self.record)

    def events(self) -> list[JobEvent]:
        return self.backend.training.events(self.id)

    def environment(self) -> dict[str, Any] | None:
        """The job's environment against the kernel's: ``{"recorded", "mode", "installed", "differs"}``
        (``decisions/env_diff.py``); None for a job pai-jupyter did not submit."""
        from ..decisions.env_diff import environment_diff

        try:
            provenance = self.provenance
        except PaiError:
            return None
        recorded = self.backend.training.recorded_environment(self.id)
        return environment_diff(
            provenance.get("environment"), provenance.get("env_sync"), self.spec.requirements, recorded
        )

    def tensorboard(self) -> dict[str, Any] | None:
        """``{"url", "command", "logdir"}``: how to open the logs the job wrote to PAI_OUTPUT_TENSORBOARD."""
        from .tensorboard import tensorboard_info

        local = self.record.backend == "local"
        return tensorboard_info(self.record, getattr(self.backend.storage, "path_for", None) if local else None)

    def stop(self) -> Job:
        """Stop the job; a ConflictError (one line) when it has already ended or is stopping."""
        check_job_action(self.refresh(), "stop")
        self.record = self.backend.training.stop(self.id)
        return self

    def preempt(self) -> Job:
        """Reclaim the job's instances as a spot reclaim would (backends whose ``can_preempt``)."""
        if not self.backend.training.can_preempt:
            raise PaiError(f"the {self.backend.id} backend cannot simulate preemption")
        self.record = self.backend.training.preempt(self.id)
        return self

    def wait(
        self,
        timeout: float | None = None,
        poll: float | None = None,
        raise_on_failure: bool = True,
        on_update: Callable[[JobRecord], None] | None = None,
    ) -> Job:
        """Block until the job ends; raise ``JobFailed`` if it did not succeed.

        A watcher: every poll reconciles the job (see ``reconcile``).
        """
        if poll is None:
            poll = float(getattr(self.backend.training, "reconcile_interval", 1.0))
        deadline = None if timeout is None else time.monotonic() + timeout
        last_state = None
        while True:
            record = self.reconcile()
            if on_update is not None and record.state != last_state:
                on_update(record)
                last_state = record.state
            if record.state in TERMINAL_STATES:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} is still {record.state} after {timeout:g}s")
            time.sleep(poll)
        if raise_on_failure and record.state != "Succeeded":
            raise JobFailed(
                f"job {self.id} ({self.name}) {record.state.lower()}"
                + (f": {record.reason}" if record.reason else ""),
                f"see its logs: jupyter pai jobs logs {self.id}",
            )
        return self

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.record.state} on {self.record.backend}>"


def submit(
    source: str,
    spec: JobSpec,
    *,
    cwd: Path | str | None = None,
    backend: BackendArg = None,
    python: str | None = None,
    simulate_preemption_after: float | None = None,
    include: Sequence[str] = (),
    source_name: str = "the cell",
    push_ref: bool | None = None,
) -> Job:
    """Package ``source`` as the job's entry script with its code and provenance, and submit it.

    ``include``: glob patterns of credential files (``.env``, ``.netrc``, ...) to copy into
    the code snapshot anyway; by default they are left out. A Python entry script that does
    not compile is not submitted (``source_name`` names it in the error).

    The code that runs is also committed on ``refs/pai/jobs/<job-id>`` in the
    user's repository (see ``provenance.refs``); ``push_ref`` (default:
    ``PaiConfig.push_job_refs``) pushes that ref to the remote.
    """
    from jupyter_core.paths import jupyter_runtime_dir

    from ..provenance import capture, make_snapshot

    if spec.experiment is None:  # the notebook's name when called from one (JPY_SESSION_NAME), else "default"
        spec = spec.with_changes(experiment=default_experiment())
    spec.validate()
    check_syntax(source, spec.entry, source_name)
    be = resolve_backend(backend)
    cwd = Path(cwd or Path.cwd())
    provenance = capture(
        cwd,
        entry_source=source,
        entry_name=spec.entry,
        data_uris=[i.uri for i in spec.inputs],
        spec=spec.to_dict(),
    )
    with tempfile.TemporaryDirectory(prefix="pai-snapshot-") as tmp:
        snapshot = make_snapshot(
            cwd,
            source,
            spec.entry,
            Path(tmp) / "code",
            include=include,
            private_dirs=(
                current_config().home_path,
                Path(jupyter_runtime_dir()),
            ),  # the control plane's token and state
        )
        spec = spec.with_changes(workdir=snapshot.workdir)
        spec = _sync_environment(Path(tmp) / "code", spec, provenance)
        job = submit_code(
            Path(tmp) / "code",
            spec,
            provenance,
            backend=be,
            repo=cwd,
            python=python,
            simulate_preemption_after=simulate_preemption_after,
            push_ref=push_ref,
        )
    job.warnings[:0] = list(provenance.get("warnings", []))
    if snapshot.skipped:
        job.warnings.append(
            "left out of the code snapshot (over 10 MB each; upload data and pass --data oss://...): "
            + ", ".join(snapshot.skipped)
        )
    if snapshot.credentials:
        shown = ", ".join(snapshot.credentials[:8]) + (" ..." if len(snapshot.credentials) > 8 else "")
        job.warnings.append(
            f"left out of the code snapshot as credential files: {shown} (--include PATTERN copies one anyway)"
        )
    return job


def _sync_environment(code_dir: Path, spec: JobSpec, provenance: dict[str, Any]) -> JobSpec:
    """Pin what the code imports to the kernel's versions (``env_sync="auto"``); record the plan."""
    from ..provenance.imports import plan_env_sync

    packages = (provenance.get("environment") or {}).get("packages") or {}
    plan = plan_env_sync(code_dir, spec.entry, spec.workdir, packages, spec.env_sync, spec.requirements)
    if spec.env_sync == "auto":
        spec = spec.with_changes(requirements=tuple(plan.requirements))
    provenance["env_sync"] = plan.to_dict()
    # Only the pins change: the captured spec stays the redacted one (no --env secret in provenance).
    provenance.setdefault("spec", {})["requirements"] = spec.to_dict()["requirements"]
    return spec


def check_syntax(source: str, entry: str, source_name: str) -> None:
    """Refuse a Python entry script that does not compile: one line with the line number and the error."""
    if not entry.endswith(".py"):
        return
    try:
        compile(source, entry, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        raise ValidationError(
            f"{source_name} has a syntax error at {where}: {exc.msg}; nothing was submitted",
            "fix it and run again",
        ) from None
    except ValueError as exc:  # null bytes
        raise ValidationError(f"{source_name} cannot be compiled: {exc}; nothing was submitted") from None


def submit_code(
    code_dir: Path,
    spec: JobSpec,
    provenance: dict[str, Any],
    *,
    backend: BackendArg = None,
    repo: Path | None = None,
    python: str | None = None,
    simulate_preemption_after: float | None = None,
    push_ref: bool | None = None,
    base_commit: str | None = None,
) -> Job:
    """Submit an already built code folder: fingerprint the data, upload, submit, commit the job's ref.

    ``repo``: a folder inside the Git repository the code comes from (None: no ref).
    ``base_commit``: the commit the code is expected to be (a rerun): the ref points at it when
    the trees match, else a new commit on top of it.
    """
    from ..provenance.refs import GitFailed, snapshot_tree
    from .fingerprint import fingerprint_inputs

    be = resolve_backend(backend)
    config = current_config()
    warnings: list[str] = []
    provenance["data_fingerprints"] = fingerprint_inputs(be.storage, spec.inputs)
    for channel, fp in provenance["data_fingerprints"].items():
        if not fp["complete"]:
            warnings.append(
                f"data input {channel} ({fp['uri']}) was fingerprinted in part: {fp['sampled']['why']}"
            )
    tree = None
    if repo is not None and config.job_refs:
        try:
            tree = snapshot_tree(repo, code_dir)
        except GitFailed as exc:
            warnings.append(f"no refs/pai/jobs commit for this job: {exc.message}")
    if tree is not None and base_commit:
        from ..provenance.refs import resolve_tree

        tree = dataclasses.replace(tree, head=base_commit, head_tree=resolve_tree(tree.git_dir, base_commit))
    if tree is not None:
        provenance["code"] = {"tree": tree.tree, "base": tree.head, "repo": str(tree.root)}
    bucket = config.bucket
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = OssUri(bucket, f"pai-jupyter/submissions/{spec.name}-{stamp}-{secrets.token_hex(3)}/")
    files = [p for p in code_dir.rglob("*") if p.is_file()]
    code_uri = be.storage.upload(code_dir, base.join("code").as_dir())
    provenance["snapshot"] = {
        "uri": str(code_uri),
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }
    be.storage.write_bytes(base.join("provenance.json"), _json_bytes(provenance))
    kwargs: dict[str, Any] = {"python": python or sys.executable}
    if simulate_preemption_after is not None:
        kwargs["simulate_preemption_after"] = simulate_preemption_after
    record = be.training.submit(spec, str(code_uri), provenance, **kwargs)
    job = Job(record, be)
    job.warnings = warnings
    if tree is not None:
        _record_code_commit(job, tree, push_ref if push_ref is not None else config.push_job_refs)
    return job


def _record_code_commit(job: Job, tree: Any, push: bool) -> None:
    """Commit the snapshot on ``refs/pai/jobs/<id>``, optionally push it, and add it to the provenance."""
    from ..provenance.refs import GitFailed, commit_job, push_ref

    try:
        code = commit_job(tree, job.id, job.name, job.record.backend)
    except (GitFailed, PaiError) as exc:
        job.warnings.append(f"no refs/pai/jobs commit for this job: {exc.message}")
        return
    if push:
        try:
            code["pushed_to"] = push_ref(tree.git_dir, code["ref"])
        except (GitFailed, PaiError) as exc:
            job.warnings.append(f"could not push {code['ref']}: {exc.message}")
    try:
        job.backend.training.add_provenance(
            job.id, {"code_commit": code["commit"], "code_ref": code["ref"], "code": code}
        )
    except PaiError as exc:  # the job runs; only the record of its commit is missing
        job.warnings.append(f"{code['ref']} was written but not recorded in the job's provenance: {exc.message}")
        return
    job._provenance = None
    job.code = code


def submit_file(path: Path | str, spec: JobSpec, **kwargs: Any) -> Job:
    """Submit a script file (``jupyter pai train SCRIPT.py``)."""
    path = Path(path)
    if not path.is_file():
        raise PaiError(f"script {path} does not exist")
    spec = spec.with_changes(entry=path.name) if spec.entry == "main.py" else spec
    kwargs.setdefault("cwd", path.resolve().parent)
    kwargs.setdefault("source_name", path.name)
    return submit(path.read_text(), spec, **kwargs)


def get_job(job_id: str, backend: BackendArg = None) -> Job:
    be = resolve_backend(backend)
    return Job(be.training.get(job_id), be)


def jobs(
    limit: int = 100, state: str | None = None, name: str | None = None, backend: BackendArg = None
) -> list[Job]:
    be = resolve_backend(backend)
    return [Job(r, be) for r in be.training.list(limit=limit, state=state, name=name)]


def job_page(query: JobQuery | None = None, backend: BackendArg = None, **filters: Any) -> JobPage:
    """One page of the whole job history, newest first, searched by the backend: ``q`` (a part
    of the name or id), ``state``, ``backend``, ``framework``, ``experiment``, ``since``/``until``
    (epoch seconds); ``limit``; ``cursor`` (the previous page's ``next``) or ``page``."""
    from ..records import JOB_STATES

    query = dataclasses.replace(query or JobQuery(), **filters)
    if query.limit < 1:
        raise ValidationError(f"limit must be at least 1, got {query.limit}")
    if query.page is not None and query.page < 1:
        raise ValidationError(f"page must be at least 1, got {query.page}", "pages count from 1")
    if query.state and query.state not in JOB_STATES:
        raise ValidationError(f"unknown job state {query.state!r}", f"one of {', '.join(JOB_STATES)}")
    be = resolve_backend(backend)
    return be.training.list_page(query)


def upload(local: Path | str, uri: str, backend: BackendArg = None, progress: Any = None) -> str:
    """Copy a local file or folder to ``oss://`` storage; returns the URI written."""
    return str(resolve_backend(backend).storage.upload(Path(local), OssUri.parse(uri), progress))


def download(uri: str, local: Path | str, backend: BackendArg = None, progress: Any = None) -> Path:
    return resolve_backend(backend).storage.download(OssUri.parse(uri), Path(local), progress)


def _json_bytes(data: Any) -> bytes:
    import json

    return json.dumps(data, indent=2, default=str).encode()


def public_record(record: JobRecord) -> dict[str, Any]:
    """``record.to_dict()`` for people (``--json``, the REST API, the sidebar): ``--env`` values whose
    name says secret (``MY_PASSWORD``) or that look like one are redacted, as in provenance."""
    from ..provenance.redact import redact

    data = record.to_dict()
    data["actions"] = list(job_actions(record))
    data["experiment"] = record.spec.experiment
    data["spec"]["env"] = redact(data["spec"].get("env") or {})
    return data
