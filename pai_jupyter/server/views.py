"""JSON shapes the sidebar reads: records as dicts, plus small summaries.

Kept apart from the handlers so the REST API and the push channel send the
same shapes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..backends.base import JobEvent, MetricPoint
from ..client import Job


def job_json(job: Job) -> dict[str, Any]:
    return job.record.public_dict()  # --env secrets redacted


def metric_json(point: MetricPoint) -> dict[str, Any]:
    return asdict(point)


def event_json(event: Any) -> dict[str, Any]:
    return asdict(event)


def provenance_summary(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """What a person checks first: which commit, was the tree dirty, which framework and CUDA.

    Provenance is captured by ``pai_jupyter.provenance``; older jobs or jobs
    submitted without it give a summary with ``available: False``.
    """
    if not provenance:
        return {"available": False}
    git = provenance.get("git") or {}
    env = provenance.get("environment") or provenance.get("env") or {}
    frameworks = env.get("frameworks") or provenance.get("frameworks") or {}
    cuda = env.get("cuda") or provenance.get("cuda") or {}
    framework_texts: list[str] = []
    framework_cuda: list[str] = []
    if isinstance(frameworks, dict):
        for name, value in frameworks.items():
            if isinstance(value, dict):
                version = value.get("version")
                framework_texts.append(f"{name} {version}" if version else name)
                if value.get("cuda"):
                    framework_cuda.append(f"{value['cuda']} ({name})")
            elif value:
                framework_texts.append(f"{name} {value}")
    if isinstance(cuda, dict):
        cuda_text = cuda.get("version") or cuda.get("runtime") or cuda.get("driver") or None
        if cuda_text is None:
            cuda_text = ", ".join(f"{k} {v}" for k, v in cuda.items() if v) or None
    else:
        cuda_text = str(cuda) if cuda else None
    python = env.get("python") or provenance.get("python")
    if isinstance(python, dict):
        python = python.get("version")
    return {
        "available": True,
        "is_repo": bool(git.get("is_repo", bool(git.get("commit")))),
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": bool(git.get("dirty")),
        "remote": git.get("remote") or git.get("remote_url"),
        "python": python,
        "frameworks": framework_texts,
        "cuda": cuda_text or (", ".join(framework_cuda) or None),
    }


def advice_events(events: list[JobEvent]) -> list[dict[str, Any]]:
    return [event_json(e) for e in events if e.kind == "advice"]
