"""SQLite state of pipelines: definitions, runs, their steps, trigger state, serving metrics.

Everything the engine knows is here, so a control-plane restart resumes a run
where it was: finished steps keep their artefacts and are not run again, a
running step's job or rollout is followed again, a schedule remembers the last
time it fired (missed ones run once), a watched prefix what it had seen.

Shapes (REST, CLI, sidebar): ``pipeline_json`` and ``run_json`` below.
"""

from __future__ import annotations

import secrets
from typing import Any

from ...errors import ConflictError, NotFoundError
from ...specs.pipeline import PipelineSpec
from ..db import Database, dumps, loads

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS pipelines (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS pipeline_runs (
        id TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        number INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        trigger TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS pipeline_runs_by_pipeline ON pipeline_runs(pipeline, number)",
    """CREATE TABLE IF NOT EXISTS pipeline_steps (
        run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        kind TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        job_id TEXT,
        service TEXT,
        version INTEGER,
        artefacts TEXT NOT NULL DEFAULT '{}',
        metrics TEXT,
        gate TEXT,
        started_at REAL,
        finished_at REAL,
        PRIMARY KEY (run_id, step)
    )""",
    """CREATE TABLE IF NOT EXISTS pipeline_triggers (
        pipeline TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (pipeline, key)
    )""",
    """CREATE TABLE IF NOT EXISTS serving_metrics (
        service TEXT NOT NULL,
        version INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        run_id TEXT,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (service, version)
    )""",
]

ACTIVE, PAUSED = "active", "paused"
# Run states: queued (waiting for another run of the pipeline to end), running, then
# succeeded | failed | gated (the evaluation gate stopped it before deploy) | stopped.
QUEUED, RUNNING, SUCCEEDED, FAILED, GATED, STOPPED = "queued", "running", "succeeded", "failed", "gated", "stopped"
RUN_ACTIVE = (QUEUED, RUNNING)
# Step states: pending, running, then succeeded | failed | skipped.
PENDING, SKIPPED = "pending", "skipped"


class PipelineStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("pipelines-1", SCHEMA)

    # -- definitions -------------------------------------------------------------------
    def put(self, spec: PipelineSpec, now: float) -> dict[str, Any]:
        """Create or replace a definition; a replaced one keeps its state (active/paused)."""
        row = self.db.one("SELECT revision FROM pipelines WHERE name = ?", (spec.name,))
        if row is None:
            self.db.execute(
                "INSERT INTO pipelines(name, spec, state, revision, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (spec.name, dumps(spec.to_dict()), ACTIVE, 1, now, now),
            )
        else:
            self.db.execute(
                "UPDATE pipelines SET spec = ?, revision = ?, updated_at = ? WHERE name = ?",
                (dumps(spec.to_dict()), row["revision"] + 1, now, spec.name),
            )
            # A changed definition starts its triggers afresh (a new schedule, another prefix).
            self.db.execute("DELETE FROM pipeline_triggers WHERE pipeline = ?", (spec.name,))
        return self.get(spec.name)

    def get(self, name: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM pipelines WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no pipeline named {name!r}", "list them with `jupyter pai pipelines list`")
        return {
            "name": row["name"],
            "spec": loads(row["spec"]),
            "state": row["state"],
            "revision": row["revision"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    def names(self) -> list[str]:
        return [r["name"] for r in self.db.all("SELECT name FROM pipelines ORDER BY name")]

    def set_state(self, name: str, state: str, now: float) -> None:
        self.get(name)
        self.db.execute("UPDATE pipelines SET state = ?, updated_at = ? WHERE name = ?", (state, now, name))
        self.db.execute("DELETE FROM pipeline_triggers WHERE pipeline = ?", (name,))

    def delete(self, name: str) -> None:
        self.get(name)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM pipeline_runs WHERE pipeline = ?", (name,))
            conn.execute("DELETE FROM pipeline_triggers WHERE pipeline = ?", (name,))
            conn.execute("DELETE FROM pipelines WHERE name = ?", (name,))

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, name: str, spec: PipelineSpec, trigger: dict[str, Any], now: float) -> str:
        run_id = f"run-{secrets.token_hex(5)}"
        with self.db.transaction() as conn:
            number = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM pipeline_runs WHERE pipeline = ?", (name,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO pipeline_runs(id, pipeline, number, state, trigger, spec, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (run_id, name, number, QUEUED, dumps(trigger), dumps(spec.to_dict()), now),
            )
            for position, step in enumerate(spec.order()):
                conn.execute(
                    "INSERT INTO pipeline_steps(run_id, step, kind, position, state, service) VALUES (?,?,?,?,?,?)",
                    (run_id, step.name, step.kind, position, PENDING, step.service),
                )
        return run_id

    def run_row(self, run_id: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,))
        if row is None:
            raise NotFoundError(f"no pipeline run {run_id!r}", "see `jupyter pai pipelines runs NAME`")
        data = dict(row)
        data["trigger"] = loads(data["trigger"], {})
        data["spec"] = loads(data["spec"], {})
        return data

    def run_ids(self, name: str, limit: int = 20) -> list[str]:
        rows = self.db.all(
            "SELECT id FROM pipeline_runs WHERE pipeline = ? ORDER BY number DESC LIMIT ?", (name, limit)
        )
        return [r["id"] for r in rows]

    def active_run_ids(self, name: str | None = None) -> list[str]:
        marks = ",".join("?" * len(RUN_ACTIVE))
        sql = f"SELECT id FROM pipeline_runs WHERE state IN ({marks})"
        params: tuple[Any, ...] = RUN_ACTIVE
        if name is not None:
            sql += " AND pipeline = ?"
            params = (*params, name)
        return [r["id"] for r in self.db.all(sql + " ORDER BY created_at, number", params)]

    def update_run(self, run_id: str, **fields: Any) -> None:
        if "trigger" in fields:
            fields["trigger"] = dumps(fields["trigger"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE pipeline_runs SET {sets} WHERE id = ?", (*fields.values(), run_id))

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT * FROM pipeline_steps WHERE run_id = ? ORDER BY position", (run_id,))
        out = []
        for row in rows:
            data = dict(row)
            data["artefacts"] = loads(data["artefacts"], {})
            data["metrics"] = loads(data["metrics"])
            data["gate"] = loads(data["gate"])
            out.append(data)
        return out

    def update_step(self, run_id: str, step: str, **fields: Any) -> None:
        for key in ("artefacts", "metrics", "gate"):
            if key in fields:
                fields[key] = dumps(fields[key])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE pipeline_steps SET {sets} WHERE run_id = ? AND step = ?", (*fields.values(), run_id, step)
        )

    def run_json(self, run_id: str) -> dict[str, Any]:
        """A run as clients see it: its trigger, state and every step with its links and figures."""
        run = self.run_row(run_id)
        steps = []
        for s in self.steps(run_id):
            links: dict[str, Any] = {}
            if s["job_id"]:
                links["job"] = s["job_id"]
            if s["kind"] == "deploy" and s["service"]:
                links["service"] = s["service"]
                if s["version"] is not None:
                    links["rollout"] = {"service": s["service"], "version": s["version"]}
            steps.append(
                {
                    "name": s["step"],
                    "kind": s["kind"],
                    "state": s["state"],
                    "reason": s["reason"],
                    "job_id": s["job_id"],
                    "service": s["service"],
                    "version": s["version"],
                    "artefacts": s["artefacts"],
                    "metrics": s["metrics"],
                    "gate": s["gate"],
                    "started_at": s["started_at"],
                    "finished_at": s["finished_at"],
                    "links": links,
                }
            )
        return {
            "id": run["id"],
            "pipeline": run["pipeline"],
            "number": run["number"],
            "state": run["state"],
            "reason": run["reason"],
            "trigger": run["trigger"],
            "created_at": run["created_at"],
            "started_at": run["started_at"],
            "finished_at": run["finished_at"],
            "steps": steps,
        }

    def check_deletable(self, name: str) -> None:
        if self.active_run_ids(name):
            raise ConflictError(f"pipeline {name} has a run in progress")

    # -- triggers --------------------------------------------------------------------------
    def trigger_state(self, name: str, key: str) -> dict[str, Any] | None:
        row = self.db.one("SELECT state FROM pipeline_triggers WHERE pipeline = ? AND key = ?", (name, key))
        return loads(row["state"]) if row else None

    def set_trigger_state(self, name: str, key: str, state: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO pipeline_triggers(pipeline, key, state) VALUES (?,?,?) "
            "ON CONFLICT(pipeline, key) DO UPDATE SET state = excluded.state",
            (name, key, dumps(state)),
        )

    # -- the serving version's recorded metrics ----------------------------------------------
    def record_serving_metrics(
        self, service: str, version: int, metrics: dict[str, float], run_id: str, now: float
    ) -> None:
        self.db.execute(
            "INSERT INTO serving_metrics(service, version, metrics, run_id, recorded_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(service, version) DO UPDATE SET metrics = excluded.metrics, run_id = excluded.run_id, "
            "recorded_at = excluded.recorded_at",
            (service, version, dumps(metrics), run_id, now),
        )

    def serving_metrics(self, service: str, version: int) -> dict[str, float] | None:
        row = self.db.one(
            "SELECT metrics FROM serving_metrics WHERE service = ? AND version = ?", (service, version)
        )
        return loads(row["metrics"]) if row else None


__all__ = [
    "ACTIVE",
    "FAILED",
    "GATED",
    "PAUSED",
    "PENDING",
    "QUEUED",
    "RUNNING",
    "RUN_ACTIVE",
    "SKIPPED",
    "STOPPED",
    "SUCCEEDED",
    "PipelineStore",
]
