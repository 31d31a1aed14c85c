"""Serving state in the control plane's SQLite: services, versions, rollouts, events, metrics.

Tables are added through ``Database.migrate`` so they live beside the job
tables and survive restarts. Every mutation is one short statement or one
transaction on the control plane's event loop thread. The records returned
are the serving contract's (``pai_jupyter.records``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from ...errors import NotFoundError
from ...records import (
    ROLLOUT_ACTIVE,
    RolloutRecord,
    RolloutStep,
    ServiceEvent,
    ServiceMetricPoint,
    ServiceRecord,
    VersionRecord,
)
from ...specs.service import ServiceSpec
from ..db import Database, dumps, loads

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS services (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        token TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        reason TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS service_versions (
        service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        model_uri TEXT NOT NULL,
        model_path TEXT NOT NULL,
        processor TEXT NOT NULL,
        command TEXT,
        state TEXT NOT NULL,
        weight REAL NOT NULL DEFAULT 0,
        signature TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        desired_instances INTEGER NOT NULL DEFAULT 0,
        job_id TEXT,
        provenance_uri TEXT,
        reason TEXT,
        pinned_only INTEGER NOT NULL DEFAULT 0,
        last_scale_out_at REAL,
        last_scale_in_at REAL,
        PRIMARY KEY (service, version)
    )""",
    """CREATE TABLE IF NOT EXISTS rollouts (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
        from_version INTEGER NOT NULL,
        to_version INTEGER NOT NULL,
        plan TEXT NOT NULL,
        state TEXT NOT NULL,
        step INTEGER NOT NULL,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        reason TEXT,
        steps TEXT NOT NULL DEFAULT '[]'
    )""",
    "CREATE INDEX IF NOT EXISTS rollouts_service ON rollouts(service, started_at)",
    """CREATE TABLE IF NOT EXISTS service_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        version INTEGER,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX IF NOT EXISTS service_events_service ON service_events(service, id)",
    """CREATE TABLE IF NOT EXISTS service_metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        ts REAL NOT NULL,
        version INTEGER NOT NULL,
        qps REAL NOT NULL,
        p50_ms REAL,
        p95_ms REAL,
        error_rate REAL NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        instances INTEGER NOT NULL,
        weight REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS service_metrics_service ON service_metrics(service, ts)",
    """CREATE TABLE IF NOT EXISTS serving_instances (
        pid INTEGER PRIMARY KEY,
        pid_started REAL,
        service TEXT NOT NULL,
        version INTEGER NOT NULL,
        port INTEGER NOT NULL
    )""",
]

_VERSION_FIELDS = {
    "state",
    "weight",
    "desired_instances",
    "reason",
    "pinned_only",
    "last_scale_out_at",
    "last_scale_in_at",
    "signature",
}


# A custom version's container layout: its --code folder and --requirements (the PAI SDK's
# serving layout, instances.py); one row per version that has either.
LAYOUT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS version_layouts (
        service TEXT NOT NULL,
        version INTEGER NOT NULL,
        code_path TEXT,
        requirements TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (service, version),
        FOREIGN KEY (service, version) REFERENCES service_versions(service, version) ON DELETE CASCADE
    )""",
]


class ServingStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("serving-1", SCHEMA)
        db.migrate("serving-layout-1", LAYOUT_SCHEMA)

    def set_layout(self, service: str, version: int, code_path: str | None, requirements: list[str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO version_layouts(service, version, code_path, requirements) VALUES (?,?,?,?)",
                (service, version, code_path, dumps(list(requirements))),
            )

    def layout(self, service: str, version: int) -> tuple[str | None, list[str]]:
        """(code folder or None, requirement lines) of one version."""
        row = self.db.one(
            "SELECT code_path, requirements FROM version_layouts WHERE service = ? AND version = ?",
            (service, version),
        )
        return (row["code_path"], loads(row["requirements"], [])) if row else (None, [])

    # -- services -----------------------------------------------------------------
    def create_service(self, name: str, spec: dict[str, Any], token: str, state: str) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO services(name, spec, token, state, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            (name, dumps(spec), token, state, now, now),
        )

    def service_row(self, name: str) -> Any:
        row = self.db.one("SELECT * FROM services WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no service named {name!r}", "list services with `jupyter pai services list`")
        return row

    def exists(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM services WHERE name = ?", (name,)) is not None

    def service_names(self) -> list[str]:
        return [r["name"] for r in self.db.all("SELECT name FROM services ORDER BY created_at")]

    def update_service(self, name: str, **fields: Any) -> None:
        if "spec" in fields:
            fields["spec"] = dumps(fields["spec"])
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE services SET {cols} WHERE name = ?", (*fields.values(), name))

    def delete_service(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM services WHERE name = ?", (name,))
            conn.execute("DELETE FROM service_events WHERE service = ?", (name,))
            conn.execute("DELETE FROM service_metrics WHERE service = ?", (name,))

    # -- versions -------------------------------------------------------------------
    def add_version(
        self,
        service: str,
        model_uri: str,
        model_path: str,
        processor: str,
        command: str | None,
        state: str,
        signature: dict[str, Any],
        job_id: str | None,
        provenance_uri: str | None,
        pinned_only: bool = False,
    ) -> int:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM service_versions WHERE service = ?", (service,)
            ).fetchone()
            number = int(row[0])
            conn.execute(
                "INSERT INTO service_versions(service, version, model_uri, model_path, processor, command, state,"
                " signature, created_at, job_id, provenance_uri, pinned_only) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    service,
                    number,
                    model_uri,
                    model_path,
                    processor,
                    command,
                    state,
                    dumps(signature),
                    time.time(),
                    job_id,
                    provenance_uri,
                    int(pinned_only),
                ),
            )
        return number

    def version_rows(self, service: str) -> list[Any]:
        return self.db.all("SELECT * FROM service_versions WHERE service = ? ORDER BY version", (service,))

    def update_version(self, service: str, version: int, **fields: Any) -> None:
        unknown = set(fields) - _VERSION_FIELDS
        assert not unknown, unknown
        if "signature" in fields:
            fields["signature"] = dumps(fields["signature"])
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE service_versions SET {cols} WHERE service = ? AND version = ?",
            (*fields.values(), service, version),
        )

    def set_weights(self, service: str, weights: dict[int, float]) -> None:
        """All versions' weights at once (absent versions get 0)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE service_versions SET weight = 0 WHERE service = ?", (service,))
            for version, weight in weights.items():
                conn.execute(
                    "UPDATE service_versions SET weight = ? WHERE service = ? AND version = ?",
                    (float(weight), service, version),
                )
            conn.execute("UPDATE services SET updated_at = ? WHERE name = ?", (time.time(), service))

    # -- rollouts -------------------------------------------------------------------
    def save_rollout(self, r: RolloutRecord) -> None:
        r.updated_at = time.time()
        self.db.execute(
            "INSERT INTO rollouts(id, service, from_version, to_version, plan, state, step, started_at, updated_at,"
            " reason, steps) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state = excluded.state,"
            " step = excluded.step, updated_at = excluded.updated_at, reason = excluded.reason,"
            " steps = excluded.steps, plan = excluded.plan",
            (
                r.id,
                r.service,
                r.from_version,
                r.to_version,
                dumps({"steps": r.plan, **r.gates}),
                r.state,
                r.step,
                r.started_at,
                r.updated_at,
                r.reason,
                dumps([asdict(s) for s in r.steps]),
            ),
        )

    def latest_rollout(self, service: str) -> RolloutRecord | None:
        row = self.db.one(
            "SELECT * FROM rollouts WHERE service = ? ORDER BY started_at DESC, rowid DESC LIMIT 1", (service,)
        )
        return _rollout(row) if row else None

    def active_rollouts(self) -> list[RolloutRecord]:
        marks = ",".join("?" for _ in ROLLOUT_ACTIVE)
        rows = self.db.all(
            f"SELECT * FROM rollouts WHERE state IN ({marks}) ORDER BY started_at", tuple(ROLLOUT_ACTIVE)
        )
        return [_rollout(r) for r in rows]

    # -- events and metrics ---------------------------------------------------------
    def add_event(self, service: str, event: ServiceEvent) -> None:
        self.db.execute(
            "INSERT INTO service_events(service, ts, kind, message, version, data) VALUES (?,?,?,?,?,?)",
            (service, event.ts, event.kind, event.message, event.version, dumps(event.data)),
        )

    def events(self, service: str, since: float | None = None, limit: int = 1000) -> list[ServiceEvent]:
        rows = self.db.all(
            "SELECT * FROM (SELECT * FROM service_events WHERE service = ? AND ts >= ? ORDER BY id DESC LIMIT ?)"
            " ORDER BY id",
            (service, since or 0.0, limit),
        )
        return [ServiceEvent(r["ts"], r["kind"], r["message"], r["version"], loads(r["data"], {})) for r in rows]

    def add_metrics(self, service: str, points: Iterable[ServiceMetricPoint]) -> None:
        self.db.executemany(
            "INSERT INTO service_metrics(service, ts, version, qps, p50_ms, p95_ms, error_rate, requests, errors,"
            " instances, weight) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    service,
                    p.ts,
                    p.version,
                    p.qps,
                    p.p50_ms,
                    p.p95_ms,
                    p.error_rate,
                    p.requests,
                    p.errors,
                    p.instances,
                    p.weight,
                )
                for p in points
            ],
        )

    def metrics(self, service: str, since: float | None = None, limit: int = 5000) -> list[ServiceMetricPoint]:
        rows = self.db.all(
            "SELECT * FROM (SELECT * FROM service_metrics WHERE service = ? AND ts >= ? ORDER BY id DESC LIMIT ?)"
            " ORDER BY id",
            (service, since or 0.0, limit),
        )
        return [
            ServiceMetricPoint(
                r["ts"],
                r["version"],
                r["qps"],
                r["p50_ms"],
                r["p95_ms"],
                r["error_rate"],
                r["requests"],
                r["errors"],
                r["instances"],
                r["weight"],
            )
            for r in rows
        ]

    def prune(self, keep_s: float = 7 * 86400) -> None:
        cutoff = time.time() - keep_s
        self.db.execute("DELETE FROM service_metrics WHERE ts < ?", (cutoff,))

    # -- instance pids (to kill a crashed control plane's instances on restart) -----
    def add_instance(self, pid: int, started: float | None, service: str, version: int, port: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO serving_instances(pid, pid_started, service, version, port) VALUES (?,?,?,?,?)",
            (pid, started, service, version, port),
        )

    def remove_instance(self, pid: int) -> None:
        self.db.execute("DELETE FROM serving_instances WHERE pid = ?", (pid,))

    def instances(self) -> list[Any]:
        return self.db.all("SELECT * FROM serving_instances")

    # -- records ---------------------------------------------------------------------
    def record(self, name: str, endpoint: str, live: dict[int, int] | None = None) -> ServiceRecord:
        """The service as the contract shows it; ``live`` = running instances per version."""
        row = self.service_row(name)
        spec = loads(row["spec"], {})
        live = live or {}
        versions = [
            VersionRecord(
                version=v["version"],
                model_uri=v["model_uri"],
                processor=v["processor"],
                state=v["state"],
                weight=v["weight"],
                signature=loads(v["signature"], {}),
                created_at=v["created_at"],
                instances=live.get(v["version"], 0),
                desired_instances=v["desired_instances"],
                job_id=v["job_id"],
                provenance_uri=v["provenance_uri"],
                reason=v["reason"],
            )
            for v in self.version_rows(name)
        ]
        return ServiceRecord(
            name=name,
            state=row["state"],
            backend="local",
            endpoint=endpoint,
            spec=ServiceSpec.from_dict(spec),
            versions=versions,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            env=spec.get("env", "dev"),
            rollout=self.latest_rollout(name),
            autoscaler=spec.get("autoscaler") or {},
            reason=row["reason"],
        )


def _rollout(row: Any) -> RolloutRecord:
    plan = loads(row["plan"], {})
    steps = plan.pop("steps", [])
    return RolloutRecord(
        id=row["id"],
        service=row["service"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        plan=list(steps),
        state=row["state"],
        step=row["step"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        gates=plan,
        steps=[RolloutStep(**s) for s in loads(row["steps"], [])],
    )
