"""The rollout controller of the aliyun serving face, its lease, and rollout control.

``decide_rollout`` (``pai_jupyter.decisions.rollout``) is the pure decision; this
module feeds it client-side figures (``eas_figures``), applies its decisions
as ReleaseService weight changes, and records every step's figures and every
decision as events. A decision is applied by one client only: it is claimed
first with an OSS object written with ``x-oss-forbid-overwrite``.

Lease: ``state["lease"]`` = ``{"rollout", "origin", "driver", "until", "renewed_at"}``.
``origin`` is the workspace that started the rollout (the DSW instance id, or the
host); any driver of that origin renews it (``reconcile_service``); once
``until`` has passed unrenewed, whoever reconciles next reverts. Active
rollouts are indexed at ``pai-jupyter/rollouts/active/<service>.json`` so a
server extension finds the ones its workspace drives without listing every
service.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from typing import Any

from ...config import in_dsw
from ...decisions.rollout import (
    HOLD,
    REVERT,
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
    client: Any
    cluster: str
    tick: float
    lease_s: float
    origin: str
    driver_kind: str
    _watchers: dict[str, threading.Thread]
    _reconciling: dict[str, threading.Lock]
    _reconciling_guard: threading.Lock

    # Provided by EasServing.
    def get(self, name: str) -> ServiceRecord:  # pragma: no cover
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

    def _record(
        self, state: dict[str, Any], members: dict[int, dict[str, Any]]
    ) -> ServiceRecord:  # pragma: no cover
        raise NotImplementedError

    def _store_rollout(self, state: dict[str, Any], rollout: RolloutRecord) -> None:
        rollout.updated_at = time.time()
        state["rollouts"][-1] = rollout.to_dict()
        if not rollout.active:
            state.pop("lease", None)
            self.storage.delete(self._index_uri(state["name"]))

    # -- lease --------------------------------------------------------------------------------
    def _index_uri(self, name: str) -> OssUri:
        return OssUri(self._bucket(), f"pai-jupyter/rollouts/active/{name}.json")

    def _driver(self) -> str:
        return f"{self.driver_kind} pid {os.getpid()} on {self.origin}"

    def _take_lease(self, state: dict[str, Any], rollout: RolloutRecord) -> None:
        now = time.time()
        state["lease"] = {
            "rollout": rollout.id,
            "origin": self.origin,
            "driver": self._driver(),
            "until": now + self.lease_s,
            "renewed_at": now,
        }
        self.storage.write_bytes(
            self._index_uri(state["name"]), json.dumps({"origin": self.origin, "rollout": rollout.id}).encode()
        )

    def active_rollouts(self) -> dict[str, str]:
        """Every active rollout in the index: service name -> the origin that started it."""
        out = {}
        for info in self.storage.list(OssUri(self._bucket(), "pai-jupyter/rollouts/active/")):
            if info.is_dir or not info.uri.endswith(".json"):
                continue
            try:
                entry = json.loads(self.storage.read_bytes(OssUri.parse(info.uri)))
            except (NotFoundError, ValueError):
                continue
            out[info.uri.rsplit("/", 1)[-1][: -len(".json")]] = str(entry.get("origin") or "")
        return dict(sorted(out.items()))

    def driven_here(self) -> list[str]:
        """Services whose active rollout was started from this workspace (what this origin drives)."""
        return [name for name, origin in self.active_rollouts().items() if origin == self.origin]

    def reconcile_service(self, name: str, drive: bool = True) -> ServiceRecord:
        """Advance (or revert) ``name``'s active rollout; the only operation that moves one.

        A driver (``drive=True``) of the workspace that started the rollout renews the
        step's lease and runs one controller tick. Anyone who finds the lease past its
        deadline reverts the weights to the old version and records why. Otherwise, and
        for observers (``drive=False``), nothing is written. One reconcile of a service runs
        at a time in a process, so a watcher thread and ``wait_rollout`` never write a stale state.
        """
        with self._service_lock(name):
            return self._reconcile_service(name, drive)

    def _service_lock(self, name: str) -> threading.Lock:
        """The lock that orders this process's writes to ``name``'s rollout (reconciles, actions)."""
        with self._reconciling_guard:
            return self._reconciling.setdefault(name, threading.Lock())

    def _reconcile_service(self, name: str, drive: bool) -> ServiceRecord:
        state = self._load(name)
        rollout = self._active(state)
        if rollout is None:
            return self._record(state, self._members(state["group"]))
        lease = state.get("lease") or {}
        now = time.time()
        if lease.get("rollout") == rollout.id and now > float(lease.get("until") or 0):
            self._expire(state, rollout, lease, now)
            return self._record(state, self._members(state["group"]))
        if not drive or lease.get("origin") != self.origin:
            return self._record(state, self._members(state["group"]))
        if now - float(lease.get("renewed_at") or 0) >= min(self.tick, self.lease_s / 4):
            state = self._load(name)  # renew on the newest state: never write back an older rollout
            if (state.get("lease") or {}).get("rollout") == rollout.id:
                lease = state["lease"]
                lease.update(driver=self._driver(), until=now + self.lease_s, renewed_at=now)
                self._save(state)
            rollout = self._active(state)
            if rollout is None:
                return self._record(state, self._members(state["group"]))
        members = self._members(state["group"])
        if rollout.state == ROLLOUT_RUNNING and self._advance(state, rollout, members):
            members = self._members(state["group"])
            state = self._load(name)
        return self._record(state, members)

    def _expire(self, state: dict[str, Any], rollout: RolloutRecord, lease: dict[str, Any], now: float) -> None:
        claim = OssUri(self._bucket(), f"pai-jupyter/services/{state['name']}/claims/{rollout.id}-lease")
        if not self.storage.create_exclusive(claim, json.dumps(lease).encode()):
            state.update(self._load(state["name"]))  # another client reverted it first
            return
        deadline = time.strftime("%H:%M:%S UTC", time.gmtime(float(lease.get("until") or 0)))
        reason = (
            f"no driver renewed the rollout's lease by {deadline} (last: {lease.get('driver', 'unknown')}); "
            f"traffic back on v{rollout.from_version}"
        )
        # The one rollout transition (decisions.rollout.apply): failed, 100 % back on the old version.
        self._carry_out(state, rollout, RolloutDecision(REVERT, 0.0, reason, {"lease": lease}), now)

    def lease(self, name: str) -> dict[str, Any] | None:
        """Who drives ``name``'s active rollout and when its lease ends (None without one)."""
        state = self._load(name)
        rollout = self._active(state)
        lease = state.get("lease")
        return dict(lease) if rollout is not None and lease and lease.get("rollout") == rollout.id else None

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
        eas_qps = self._eas_qps(state, (rollout.from_version, rollout.to_version))
        if eas_qps:
            figures["eas_qps"] = eas_qps  # EAS's own figure, recorded beside the gates' inputs
        decision = replace(decision, figures=figures)
        # One client applies each decision: claim it on OSS first.
        claim = OssUri(self._bucket(), f"pai-jupyter/services/{name}/claims/{rollout.id}-{rollout.step}")
        if not self.storage.create_exclusive(claim, json.dumps(figures).encode()):
            return False
        state.update(self._load(name))
        self._carry_out(state, rollout, decision, now)
        return True

    def _carry_out(
        self,
        state: dict[str, Any],
        rollout: RolloutRecord,
        decision: RolloutDecision,
        now: float,
        lease: bool = False,
    ) -> None:
        """Apply ``decision`` (``decisions.rollout.apply``) and make it so: weights, events, state on OSS.

        ``lease``: this client takes the rollout's lease (a resume: whoever resumes drives)."""
        transition = apply(rollout, decision, now)
        if transition.weights is not None:
            self._set_weights(state, transition.weights)
        for kind, message, version, data in transition.events:
            self._event(state, kind, message, version, **data)
        if lease and rollout.active:
            self._take_lease(state, rollout)
        self._store_rollout(state, rollout)
        self._save(state)

    def _eas_qps(self, state: dict[str, Any], versions: tuple[int, ...]) -> dict[str, float]:
        """QPS per version from EAS's own monitoring: DescribeServiceAutoScaler ``CurrentMetrics``
        (the only traffic figure the 2021-07-01 API exposes; there when an autoscaler is set)."""
        if not state.get("autoscaler"):
            return {}
        out = {}
        for number in versions:
            try:
                body = self.client.describe_service_auto_scaler(self.cluster, f"{state['group']}_v{number}").body
            except Exception:  # informative only: the gates never wait for it
                continue
            for metric in body.current_metrics or []:
                if str(metric.metric_name).upper() == "QPS" and metric.value is not None:
                    out[str(number)] = float(metric.value)
        return out

    def _watch(self, name: str) -> None:
        """Drive the rollout from this process too while it lives (the server extension drives it
        in the background whatever happens to this process)."""
        if name in self._watchers and self._watchers[name].is_alive():
            return

        def loop() -> None:
            while True:
                time.sleep(self.tick)
                try:
                    record = self.reconcile_service(name)
                except Exception:  # a transient failure; the next tick retries
                    continue
                if record.rollout is None or not record.rollout.active:
                    return

        thread = threading.Thread(target=loop, name=f"eas-rollout-{name}", daemon=True)
        self._watchers[name] = thread
        thread.start()

    def rollout_action(self, name: str, action: str) -> ServiceRecord:
        check_rollout_action(action)
        with self._service_lock(name):
            state = self._load(name)
            rollout = require_active(name, self._active(state))
            now = time.time()
            self._carry_out(state, rollout, user_decision(action, rollout), now, lease=action == "resume")
        if rollout.state == ROLLOUT_RUNNING:
            self._watch(name)
        return self.get(name)

    def rollback(self, name: str, version: int) -> ServiceRecord:
        with self._service_lock(name):
            return self._rollback(name, version)

    def _rollback(self, name: str, version: int) -> ServiceRecord:
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
