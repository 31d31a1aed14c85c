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
from dataclasses import replace
from typing import Any

from ...config import in_dsw
from ...decisions.rollout import (
    HOLD,
    RolloutDecision,
    apply,
    check_rollout_action,
    decide_rollout,
    require_active,
    rollback_decision,
    user_decision,
)
from ...errors import ConflictError, NotFoundError
from ...records import ROLLOUT_RUNNING, RolloutRecord, ServiceRecord
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

    def reconcile_service(self, name: str) -> ServiceRecord:  # pragma: no cover
        raise NotImplementedError

    def _latest(self, state: dict[str, Any]) -> RolloutRecord | None:  # pragma: no cover
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
        if decision.action == HOLD:
            return False
        decision = replace(decision, figures=figures)
        # One client applies each decision: claim it on OSS first.
        claim = OssUri(self._bucket(), f"pai-jupyter/services/{name}/claims/{rollout.id}-{rollout.step}")
        if not self.storage.create_exclusive(claim, json.dumps(figures).encode()):
            return False
        state.update(self._load(name))
        self._carry_out(state, rollout, decision, now)
        return True

    def _carry_out(
        self, state: dict[str, Any], rollout: RolloutRecord, decision: RolloutDecision, now: float
    ) -> None:
        """Apply ``decision`` (``decisions.rollout.apply``) and make it so: weights, events, state on OSS."""
        transition = apply(rollout, decision, now)
        if transition.weights is not None:
            self._set_weights(state, transition.weights)
        for kind, message, version, data in transition.events:
            self._event(state, kind, message, version, **data)
        self._store_rollout(state, rollout)
        self._save(state)

    def _watch(self, name: str) -> None:
        """Advance the rollout from this process while it is active."""
        if name in self._watchers and self._watchers[name].is_alive():
            return

        def loop() -> None:
            while True:
                time.sleep(self.tick)
                try:
                    record = self.reconcile_service(name)
                except Exception:  # a transient failure; the next reader retries
                    continue
                if record.rollout is None or not record.rollout.active:
                    return

        thread = threading.Thread(target=loop, name=f"eas-rollout-{name}", daemon=True)
        self._watchers[name] = thread
        thread.start()

    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        check_rollout_action(action)
        state = self._load(name)
        rollout = require_active(name, self._latest(state))
        self._carry_out(state, rollout, user_decision(action, rollout), time.time())
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
            apply(rollout, rollback_decision(version), time.time())
            self._store_rollout(state, rollout)
        self._set_weights(state, {n: (100 if n == version else 0) for n in members})
        self._event(state, "rollout", f"rolled back: 100 % on v{version}", version)
        self._save(state)
        return self.get(name)
