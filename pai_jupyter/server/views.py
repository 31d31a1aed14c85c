"""JSON shapes the sidebar reads: records as dicts, plus small summaries.

Kept apart from the handlers so the REST API and the push channel send the
same shapes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..api.jobs import Job, public_record
from ..decisions.actions import service_actions
from ..records import JobEvent, ServiceRecord


def job_json(job: Job) -> dict[str, Any]:
    data = public_record(job.record)  # --env secrets redacted; "actions" valid in its state
    data["hyperparameters"] = dict(job.record.spec.hyperparameters)  # --hp, as the script sees them
    data["tensorboard"] = job.tensorboard()
    return data


def service_json(record: ServiceRecord) -> dict[str, Any]:
    return {**record.to_dict(), "actions": list(service_actions(record))}


def metric_json(point: Any) -> dict[str, Any]:
    """A MetricPoint or ServiceMetricPoint (flat dataclasses) as JSON."""
    return dict(vars(point))


def event_json(event: Any) -> dict[str, Any]:
    return asdict(event)


def provenance_summary(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """What a person checks first: which commit, was the tree dirty, which framework and CUDA.

    Reads the shape ``pai_jupyter.provenance.capture`` writes; jobs submitted
    without provenance give a summary with ``available: False``.
    """
    if not provenance:
        return {"available": False}
    git = provenance.get("git") or {}
    env = provenance.get("environment") or {}
    frameworks: dict[str, dict[str, Any]] = env.get("frameworks") or {}
    cuda = env.get("cuda") or {}  # None without an NVIDIA driver; else {"driver", "cuda_driver", "gpus"}
    framework_texts = [f"{name} {v['version']}" if v.get("version") else name for name, v in frameworks.items()]
    framework_cuda = [f"{v['cuda']} ({name})" for name, v in frameworks.items() if v.get("cuda")]
    return {
        "available": True,
        "is_repo": bool(git.get("is_repo", bool(git.get("commit")))),
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": bool(git.get("dirty")),
        "remote": git.get("remote"),
        "python": (env.get("python") or {}).get("version"),
        "frameworks": framework_texts,
        "cuda": cuda.get("driver") or (", ".join(framework_cuda) or None),
    }


def advice_events(events: list[JobEvent]) -> list[dict[str, Any]]:
    return [event_json(e) for e in events if e.kind == "advice"]
