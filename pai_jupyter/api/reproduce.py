"""Reproduce a job: rerun it from its commit, spec, hyperparameters and data, and compare.

The code comes from the job's commit (``refs/pai/jobs/<id>``, extracted with
``git archive`` from the repository it was made in); when that repository is
not on this machine, from the snapshot the job uploaded. The spec is the
job's own (hyperparameters, arguments, environment, data inputs, resources),
on the same backend, with fresh output and checkpoint folders so the original
artefacts are never overwritten. When both jobs have ended, the artefacts are
compared file by file (SHA-256), and so are the environment and the data
fingerprints.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..errors import PaiError, ValidationError
from ..provenance.refs import checkout_commit, tree_of
from ..records import SUCCEEDED
from ..storage.uri import OssUri
from .common import BackendArg, resolve_backend
from .fingerprint import compare as compare_fingerprints
from .jobs import Job, get_job, submit_code
from .lineage import artefact_manifest


def reproduce(job_id: str, backend: BackendArg = None) -> tuple[Job, str]:
    """Submit the rerun of ``job_id``; returns (the new job, where its code came from)."""
    from ..provenance import capture

    be = resolve_backend(backend)
    original = get_job(job_id, backend=be)
    prov = original.provenance
    spec = original.spec
    commit, code = prov.get("code_commit"), prov.get("code") or {}
    with tempfile.TemporaryDirectory(prefix="pai-reproduce-") as tmp:
        code_dir = Path(tmp) / "code"
        repo, verified = None, False
        if commit and checkout_commit(code.get("repo") or "", commit, code_dir):
            source, repo = f"commit {commit} ({prov.get('code_ref')})", Path(code["repo"])
        elif original.record.code_uri:
            be.storage.download(OssUri.parse(original.record.code_uri), code_dir)
            source = f"the job's uploaded snapshot {original.record.code_uri}"
            verified = bool(commit) and code.get("tree") is not None and tree_of(code_dir) == code["tree"]
            if commit:
                source += f" (the repository holding {commit} is not on this machine; " + (
                    "the snapshot's tree is that commit's tree)" if verified else "the snapshot does NOT match it)"
                )
        else:
            raise ValidationError(
                f"job {job_id} has neither a code commit nor a code snapshot to rerun",
                "only jobs submitted with %%pai_train / jupyter pai train can be reproduced",
            )
        entry = code_dir / spec.workdir / spec.entry
        if not entry.is_file():
            raise PaiError(f"the entry script {spec.workdir}/{spec.entry} is missing from {source}")
        provenance = capture(
            entry.parent,
            entry_source=entry.read_text(),
            entry_name=spec.entry,
            data_uris=[i.uri for i in spec.inputs],
            spec=spec.to_dict(),
        )
        provenance["git"] = prov.get("git") or provenance["git"]
        provenance["reproduces"] = {"job": original.id, "code_commit": commit, "code_source": source}
        if repo is None and verified:  # same tree as the commit: name the commit, no ref to write here
            provenance.update(code_commit=commit, code_ref=prov.get("code_ref"), code={**code, "pushed_to": None})
        rerun = spec.with_changes(output=None, checkpoint=None)
        job = submit_code(code_dir, rerun, provenance, backend=be, repo=repo, base_commit=commit)
    return job, source


@dataclass
class Comparison:
    original: str
    rerun: str
    identical: bool
    same_files: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    only_original: list[str] = field(default_factory=list)
    only_rerun: list[str] = field(default_factory=list)
    code: str | None = None  # None: same commit
    environment: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    states: tuple[str, str] = ("", "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "rerun": self.rerun,
            "identical": self.identical,
            "artefacts": {
                "same": self.same_files,
                "differ": self.differing,
                "only_original": self.only_original,
                "only_rerun": self.only_rerun,
            },
            "code": self.code,
            "environment": self.environment,
            "data": self.data,
            "states": list(self.states),
        }

    def text(self) -> str:
        lines = []
        if self.states != (SUCCEEDED, SUCCEEDED):
            lines.append(
                f"the jobs did not both succeed: {self.original} {self.states[0]}, {self.rerun} {self.states[1]}"
            )
        if self.identical:
            lines.append(
                f"identical: {len(self.same_files)} artefact file(s) of {self.rerun} match {self.original}"
            )
        else:
            lines.append(f"artefacts differ between {self.original} and {self.rerun}:")
            lines += [f"  differs: {f}" for f in self.differing]
            lines += [f"  only in {self.original}: {f}" for f in self.only_original]
            lines += [f"  only in {self.rerun}: {f}" for f in self.only_rerun]
            if self.same_files:
                lines.append(f"  ({len(self.same_files)} file(s) identical)")
        lines.append("code: " + (self.code or "same commit"))
        lines.append("data: " + ("; ".join(self.data) if self.data else "same fingerprints"))
        lines.append("environment: " + ("; ".join(self.environment) if self.environment else "same"))
        return "\n".join(lines)


def _environment_diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    ea, eb = a.get("environment") or {}, b.get("environment") or {}
    out = []
    pa, pb = (ea.get("python") or {}).get("version"), (eb.get("python") or {}).get("version")
    if pa != pb:
        out.append(f"Python {pa} -> {pb}")
    ka, kb = ea.get("packages") or {}, eb.get("packages") or {}
    changed = sorted(n for n in set(ka) | set(kb) if ka.get(n) != kb.get(n))
    for name in changed[:10]:
        out.append(f"{name} {ka.get(name, '-')} -> {kb.get(name, '-')}")
    if len(changed) > 10:
        out.append(f"and {len(changed) - 10} more package(s)")
    return out


def compare_jobs(original_id: str, rerun_id: str, backend: BackendArg = None) -> Comparison:
    """Compare two ended jobs' artefacts (SHA-256 per file), code, environment and data."""
    be: Backend = resolve_backend(backend)
    a, b = get_job(original_id, backend=be), get_job(rerun_id, backend=be)
    a.refresh()
    b.refresh()
    if not (a.record.is_terminal and b.record.is_terminal):
        raise ValidationError(
            f"both jobs must have ended to compare them ({a.id} is {a.record.state}, {b.id} is {b.record.state})",
            f"wait for them: jupyter pai reproduce {a.id} --compare {b.id} once they end",
        )
    pa, pb = a.provenance, b.provenance
    ma = artefact_manifest(be.storage, a.record.outputs["model"])["files"] if a.record.outputs.get("model") else {}
    mb = artefact_manifest(be.storage, b.record.outputs["model"])["files"] if b.record.outputs.get("model") else {}
    same = sorted(f for f in set(ma) & set(mb) if ma[f]["sha256"] == mb[f]["sha256"])
    differ = sorted(f for f in set(ma) & set(mb) if ma[f]["sha256"] != mb[f]["sha256"])
    only_a, only_b = sorted(set(ma) - set(mb)), sorted(set(mb) - set(ma))
    data = []
    fa = pa.get("data_fingerprints") or {}
    fb = pb.get("data_fingerprints") or {}
    for channel in sorted(set(fa) | set(fb)):
        diff = compare_fingerprints(fa.get(channel), fb.get(channel))
        if diff:
            data.append(f"{channel}: {diff}")
    code = None
    if pa.get("code_commit") != pb.get("code_commit"):
        code = f"commit {pa.get('code_commit')} -> {pb.get('code_commit')}"
    states = (a.record.state, b.record.state)
    identical = not (differ or only_a or only_b) and bool(same) and states == (SUCCEEDED, SUCCEEDED)
    return Comparison(
        original=a.id,
        rerun=b.id,
        identical=identical,
        same_files=same,
        differing=differ,
        only_original=only_a,
        only_rerun=only_b,
        code=code,
        environment=_environment_diff(pa, pb),
        data=data,
        states=states,
    )


def wait_for_rerun(original_id: str, rerun: Job, timeout: float | None) -> None:
    """Wait for the rerun to end (whatever its outcome); a timeout is one line saying how to compare later."""
    try:
        rerun.wait(timeout=timeout, raise_on_failure=False)
    except TimeoutError:
        raise PaiError(
            f"the rerun {rerun.id} is still {rerun.record.state} after {timeout:g}s",
            f"compare once it ends: jupyter pai reproduce {original_id} --compare {rerun.id}",
        ) from None
