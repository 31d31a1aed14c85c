"""Which actions a job or a service offers in its state (pure).

The CLI, the REST API (``"actions"`` in every job and service JSON), the sidebar and the
widget all ask here, so a finished job never shows Stop; the client API refuses an
action not in the list with one line (``check_job_action`` / ``check_service_action``).
"""

from __future__ import annotations

from ..errors import ConflictError
from ..records import (
    CREATING,
    QUEUING,
    RESTARTING,
    ROLLOUT_PAUSED,
    ROLLOUT_RUNNING,
    RUNNING,
    SVC_DELETING,
    TERMINAL_STATES,
    JobRecord,
    ServiceRecord,
)

#: states in which a job can be asked to stop (Stopping is already on its way).
STOPPABLE = frozenset({CREATING, QUEUING, RUNNING, RESTARTING})


def job_actions(record: JobRecord) -> tuple[str, ...]:
    """``stop`` while the job can still be stopped; ``preempt`` (the local drill) while it runs
    locally; ``reproduce`` once it ended (rerun the recorded code and data)."""
    actions: list[str] = []
    if record.state in STOPPABLE:
        actions.append("stop")
    if record.state == RUNNING and record.backend == "local":
        actions.append("preempt")
    if record.state in TERMINAL_STATES:
        actions.append("reproduce")
    return tuple(actions)


def service_actions(record: ServiceRecord) -> tuple[str, ...]:
    """Rollout steering only while a rollout is active (pause while it runs, resume while
    paused, promote and abort both); ``rollback`` whenever another version is kept to go back to,
    during a rollout too (the emergency exit: it ends the rollout and sends all traffic to the
    chosen version, as ``ServingManager.rollback`` does); ``delete`` unless the service is
    already being deleted."""
    if record.state == SVC_DELETING:
        return ()
    actions: list[str] = []
    rollout = record.rollout
    if rollout is not None and rollout.state == ROLLOUT_RUNNING:
        actions += ["pause", "promote", "abort"]
    elif rollout is not None and rollout.state == ROLLOUT_PAUSED:
        actions += ["resume", "promote", "abort"]
    serving = record.serving_version
    if any(v.version != serving for v in record.versions):
        actions.append("rollback")
    actions.append("delete")
    return tuple(actions)


def check_job_action(record: JobRecord, action: str) -> None:
    """A ConflictError (one line) when ``action`` does not fit the job's state."""
    if action not in job_actions(record):
        raise ConflictError(
            f"job {record.id} is {record.state}: it cannot {action} now",
            f"actions in this state: {', '.join(job_actions(record)) or 'none'}",
        )


def check_service_action(record: ServiceRecord, action: str) -> None:
    """A ConflictError (one line) when ``action`` does not fit the service's state."""
    if action not in service_actions(record):
        raise ConflictError(
            f"service {record.name} cannot {action} now (state {record.state}"
            + (f", rollout {record.rollout.state}" if record.rollout else "")
            + ")",
            f"actions in this state: {', '.join(service_actions(record)) or 'none'}",
        )
