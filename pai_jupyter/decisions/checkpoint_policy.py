"""Checkpoint and spot policy: what a job spec risks, said before it is submitted.

``check_checkpoint_policy(spec)`` is pure (no I/O): the magic and the CLI
print its notes. The figures are expectations, not quotes: a preemption lands
at a uniformly random moment between two checkpoints, so it loses half the
interval on average, on every worker (instance) of the job; spot instances
are billed at roughly 60-70 % below the list price.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checkpoint import DEFAULT_INTERVAL
from ..durations import format_duration
from ..specs.job import JobSpec

MAX_SPOT_INTERVAL = 20 * 60.0  # above this, a preemption costs more than people expect
LONG_JOB = 30 * 60.0  # an estimated run longer than this should checkpoint
SPOT_DISCOUNT = (0.60, 0.70)  # typical spot discount off the list price


@dataclass(frozen=True)
class PolicyNote:
    level: str  # "warning" or "info"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def check_checkpoint_policy(spec: JobSpec) -> list[PolicyNote]:
    """Warnings (and the expected spot saving) for ``spec``; empty when there is nothing to say."""
    notes: list[PolicyNote] = []
    instances = max(1, spec.workers)
    estimate = spec.max_run_time
    if spec.spot and not spec.checkpoint:
        if estimate:
            lost = (
                f"on average half the run, {format_duration(estimate / 2)} "
                f"= {_hours(estimate / 2, instances)} instance-hours"
            )
        else:
            lost = "all work since the start"
        notes.append(
            PolicyNote(
                "warning",
                f"--spot without --checkpoint: each preemption restarts the job from zero and loses {lost}; "
                "add --checkpoint oss://... --checkpoint-interval 15m and save with pai_jupyter.Checkpointer",
            )
        )
    elif spec.spot:
        interval = spec.checkpoint_interval or DEFAULT_INTERVAL
        loss = f"{format_duration(interval / 2)} of work ({_hours(interval / 2, instances)} instance-hours)"
        if interval > MAX_SPOT_INTERVAL:
            notes.append(
                PolicyNote(
                    "warning",
                    f"--checkpoint-interval {format_duration(interval)} on spot: each preemption loses "
                    f"{loss} on average; use {format_duration(MAX_SPOT_INTERVAL)} or less",
                )
            )
        else:
            where = "" if spec.checkpoint_interval else " (Checkpointer's default)"
            notes.append(
                PolicyNote(
                    "info",
                    f"checkpoints every {format_duration(interval)}{where}: a preemption loses {loss} on average",
                )
            )
    elif estimate and estimate > LONG_JOB and not spec.checkpoint:
        notes.append(
            PolicyNote(
                "warning",
                f"the job may run {format_duration(estimate)} and has no --checkpoint: a failure or "
                f"preemption late in the run loses up to {_hours(estimate, instances)} instance-hours; "
                "add --checkpoint oss://... and save with pai_jupyter.Checkpointer",
            )
        )
    saving = _saving(spec, instances)
    if saving:
        notes.append(PolicyNote("info", saving))
    return notes


def _saving(spec: JobSpec, instances: int) -> str | None:
    low, high = SPOT_DISCOUNT
    limit = spec.spot_policy.discount_limit if spec.spot_policy else None
    estimate = spec.max_run_time
    if spec.spot:
        text = f"spot saves {low:.0%}-{high:.0%} of the list price"
        if estimate:
            full = estimate / 3600 * instances
            text += (
                f": about {full * low:.2f}-{full * high:.2f} of the {full:.2f} instance-hours "
                f"at list price for {format_duration(estimate)} x {instances} worker(s)"
            )
        if limit is not None:
            text += f"; the discount limit caps the price at {limit:.0%} of list"
        return text
    if estimate and estimate > LONG_JOB and spec.checkpoint:
        return (
            f"this checkpointed job could run on --spot for {low:.0%}-{high:.0%} less than list price "
            f"({format_duration(estimate)} x {instances} worker(s))"
        )
    return None


def _hours(seconds: float, instances: int) -> str:
    return f"{seconds / 3600 * instances:.2f}"
