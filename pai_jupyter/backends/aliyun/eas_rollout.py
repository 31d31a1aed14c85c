"""The rollout controller loop of the aliyun serving face, and rollout control.

``decide_rollout`` (``pai_jupyter.decisions.rollout``) is the pure decision; this
module feeds it client-side figures (``eas_figures``), applies its decisions
as ReleaseService weight changes, and records every step's figures and every
decision as events. A decision is applied by one client only: it is claimed
first with an OSS object written with ``x-oss-forbid-overwrite``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ...config import in_dsw
from ...decisions.rollout import ADVANCE, COMPLETE, REVERT, decide_rollout
from ...errors import ConflictError, NotFoundError, ValidationError
from ...records import (
    ROLLOUT_ABORTED,
    ROLLOUT_ACTIONS,
    ROLLOUT_FAILED,
    ROLLOUT_PAUSED,
    ROLLOUT_RUNNING,
    ROLLOUT_SUCCEEDED,
    RolloutRecord,
    RolloutStep,
    ServiceRecord,
)
from ...specs.service import RolloutPlan
from ...storage.uri import OssUri
from .eas_figures import PROBES_PER_TICK, ClientFigures, example_input


class EasRollouts:
    """Mixed into ``EasServing``, which provides the state, members and weights helpers."""

    figures: ClientFigures
    storage: Any
    tick: float
    _watchers: dict[str, threading.Thread]

    # Provided by EasServing.
    def get(self, name: str) -> ServiceRecord:  # pragma: no cover
        raise NotImplementedError

    def _load(self, name: str) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _save(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _bucket(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def _members(self, group: str) -> dict[int, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _token_of(self, member: str) -> str:  # pragma: no cover
        raise NotImplementedError

    def _set_weights(self, state: dict[str, Any], weights: dict[int, float]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _event(
        self, state: dict[str, Any], kind: str, message: str, version: int | None = None, **data: Any
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def _active(self, state: dict[str, Any]) -> RolloutRecord | None:  # pragma: no cover
        raise NotImplementedError

    def _store_rollout(self, state: dict[str, Any], rollout: RolloutRecord) -> None:
        rollout.updated_at = time.time()
        state["rollouts"][-1] = rollout.to_dict()

    def _advance(self, state: dict[str, Any], rollout: RolloutRecord, members: dict[int, dict[str, Any]]) -> bool:
        """One controller tick: gather figures, decide, apply. True when weights changed."""
        plan = RolloutPlan(steps=tuple(rollout.plan), **rollout.gates)
        group, name = state["group"], state["name"]
        body = example_input(state["versions"][str(rollout.to_version)].get("signature"))
        # However many readers poll, sample at most once per tick.
        if self.figures.due(name, self.tick):
            token = self._token_of(f"{group}_v{rollout.to_version}") if body is not None else ""
            for number in (rollout.from_version, rollout.to_version):
                item = members.get(number, {})
                if body is not None:
                    first, second = (
                        ("IntranetEndpoint", "InternetEndpoint")
                        if in_dsw()
                        else ("InternetEndpoint", "IntranetEndpoint")
                    )
                    url = str(item.get(first) or item.get(second) or "")
                    self.figures.probe(name, number, url, token, body, PROBES_PER_TICK)
                else:
                    healthy = item.get("Status") == "Running" and item.get("RunningInstance") == item.get(
                        "TotalInstance"
                    )
                    self.figures.observe_health(name, number, bool(healthy))
        since = rollout.steps[-1].started_at if rollout.steps else rollout.started_at
        new = self.figures.window(name, rollout.to_version, since)
        old = self.figures.window(name, rollout.from_version, since)
        now = time.time()
        decision = decide_rollout(plan, rollout, now, new, old)
        figures = {**decision.figures, "source": "client probes" if body is not None else "instance health"}
        if decision.action not in (ADVANCE, COMPLETE, REVERT):
            return False
        # One client applies each decision: claim it on OSS first.
        claim = OssUri(self._bucket(), f"pai-jupyter/services/{name}/claims/{rollout.id}-{rollout.step}")
        if not self.storage.create_exclusive(claim, json.dumps(figures).encode()):
            return False
        state.update(self._load(name))
        step = rollout.steps[-1]
        step.ended_at, step.figures = now, figures
        if decision.action == REVERT:
            step.result = "failed"
            self._set_weights(state, {rollout.from_version: 100, rollout.to_version: 0})
            rollout.state, rollout.reason = ROLLOUT_FAILED, decision.reason
            self._event(state, "revert", decision.reason, rollout.to_version, figures=figures)
        elif decision.action == COMPLETE:
            step.result = "passed"  # the last step already put 100 % on the new version
            rollout.state = ROLLOUT_SUCCEEDED
            self._event(state, "rollout", decision.reason, rollout.to_version, figures=figures)
        else:
            step.result = "passed"
            self._set_weights(
                state, {rollout.from_version: 100 - decision.weight, rollout.to_version: decision.weight}
            )
            rollout.step += 1
            rollout.steps.append(RolloutStep(decision.weight, now))
            self._event(state, "gate", decision.reason, rollout.to_version, figures=figures)
        self._store_rollout(state, rollout)
        self._save(state)
        return True

    def _watch(self, name: str) -> None:
        """Advance the rollout from this process while it is active."""
        if name in self._watchers and self._watchers[name].is_alive():
            return

        def loop() -> None:
            while True:
                time.sleep(self.tick)
                try:
                    record = self.get(name)
                except Exception:  # a transient failure; the next reader retries
                    continue
                if record.rollout is None or not record.rollout.active:
                    return

        thread = threading.Thread(target=loop, name=f"eas-rollout-{name}", daemon=True)
        self._watchers[name] = thread
        thread.start()

    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        if action not in ROLLOUT_ACTIONS:
            raise ValidationError(
                f"rollout action {action!r} is unknown", f"use one of {', '.join(ROLLOUT_ACTIONS)}"
            )
        state = self._load(name)
        rollout = self._active(state)
        if rollout is None:
            raise ConflictError(f"{name} has no active rollout", "deploy a new version to start one")
        step = rollout.steps[-1] if rollout.steps else None
        if action == "pause":
            rollout.state = ROLLOUT_PAUSED
            self._event(
                state, "rollout", f"rollout paused at {rollout.plan[rollout.step]:g} %", rollout.to_version
            )
        elif action == "resume":
            rollout.state = ROLLOUT_RUNNING
            if step is not None:
                step.ended_at, step.result = time.time(), None
                rollout.steps.append(RolloutStep(step.weight, time.time()))
            self._event(state, "rollout", "rollout resumed", rollout.to_version)
        elif action == "promote":
            self._set_weights(state, {rollout.to_version: 100, rollout.from_version: 0})
            rollout.state, rollout.reason = ROLLOUT_SUCCEEDED, "promoted by the user"
            if step is not None:
                step.ended_at, step.result = time.time(), "promoted"
            self._event(state, "rollout", f"v{rollout.to_version} promoted to 100 %", rollout.to_version)
        else:
            self._set_weights(state, {rollout.from_version: 100, rollout.to_version: 0})
            rollout.state, rollout.reason = ROLLOUT_ABORTED, "aborted by the user"
            if step is not None:
                step.ended_at, step.result = time.time(), "aborted"
            self._event(
                state, "rollout", f"rollout aborted; 100 % back on v{rollout.from_version}", rollout.to_version
            )
        self._store_rollout(state, rollout)
        self._save(state)
        if rollout.state == ROLLOUT_RUNNING:
            self._watch(name)
        return self.get(name)

    def rollback(self, name: str, version: int) -> ServiceRecord:
        state = self._load(name)
        members = self._members(state["group"])
        if str(version) not in state["versions"] or version not in members:
            raise NotFoundError(
                f"service {name!r} has no version {version}",
                f"versions: {', '.join(sorted(state['versions'], key=int))}",
            )
        if members[version].get("Status") != "Running":
            raise ConflictError(f"v{version} of {name} is {members[version].get('Status')}, not Running")
        rollout = self._active(state)
        if rollout is not None:
            rollout.state, rollout.reason = ROLLOUT_ABORTED, f"rolled back to v{version}"
            if rollout.steps:
                rollout.steps[-1].ended_at, rollout.steps[-1].result = time.time(), "aborted"
            self._store_rollout(state, rollout)
        self._set_weights(state, {n: (100 if n == version else 0) for n in members})
        self._event(state, "rollout", f"rolled back: 100 % on v{version}", version)
        self._save(state)
        return self.get(name)
