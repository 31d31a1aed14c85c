"""Which actions a job or a service offers in each state (decisions.actions), and the one-line refusal."""

from __future__ import annotations

import pytest

from pai_jupyter.decisions.actions import check_job_action, check_service_action, job_actions, service_actions
from pai_jupyter.errors import ConflictError
from pai_jupyter.records import JOB_STATES, JobRecord, RolloutRecord, ServiceRecord, VersionRecord
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.specs.service import ServiceSpec


def _job(state: str, backend: str = "local") -> JobRecord:
    return JobRecord(id="j1", name="n", state=state, spec=JobSpec(name="n"), backend=backend, created_at=0.0)


def test_stop_only_while_a_job_can_stop() -> None:
    offered = {state: job_actions(_job(state)) for state in JOB_STATES}
    assert {s for s, a in offered.items() if "stop" in a} == {"Creating", "Queuing", "Running", "Restarting"}
    assert offered["Stopping"] == ()
    assert offered["Succeeded"] == offered["Failed"] == offered["Stopped"] == ("reproduce",)
    assert offered["Running"] == ("stop", "preempt")
    assert job_actions(_job("Running", backend="aliyun")) == ("stop",)  # no preemption drill on DLC
    with pytest.raises(ConflictError) as err:
        check_job_action(_job("Failed"), "stop")
    assert err.value.message == "job j1 is Failed: it cannot stop now"
    assert err.value.hint == "actions in this state: reproduce"
    check_job_action(_job("Queuing"), "stop")


def _service(rollout_state: str | None, versions: int = 2, state: str = "Running") -> ServiceRecord:
    vs = [
        VersionRecord(v, f"oss://b/m{v}/", "sklearn", "Running", 100.0 if v == 1 else 0.0, {}, 0.0)
        for v in range(1, versions + 1)
    ]
    rollout = None
    if rollout_state is not None:
        rollout = RolloutRecord("r1", "svc", 1, versions, [10, 100], rollout_state, 0, 0.0, 0.0)
    spec = ServiceSpec(name="svc", processor="sklearn")
    return ServiceRecord("svc", state, "local", "http://x/api/predict/svc", spec, vs, 0.0, 0.0, rollout=rollout)


def test_service_actions_follow_the_rollout() -> None:
    assert service_actions(_service("running")) == ("pause", "promote", "abort", "rollback", "delete")
    assert service_actions(_service("paused")) == ("resume", "promote", "abort", "rollback", "delete")
    assert service_actions(_service("succeeded")) == ("rollback", "delete")
    assert service_actions(_service(None, versions=1)) == ("delete",)
    assert service_actions(_service(None, state="Deleting")) == ()
    with pytest.raises(ConflictError, match=r"cannot resume now \(state Running, rollout running\)"):
        check_service_action(_service("running"), "resume")
