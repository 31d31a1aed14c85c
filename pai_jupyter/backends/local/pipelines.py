"""The local backend's pipelines face: one HTTP request to the control plane per call
(routes in ``controlplane.pipelines.routes``; the JSON shapes are documented there)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .http import JsonClient

API = "/api/v1/pipelines"


class LocalPipelines:
    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def register(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.client.post(API, {"spec": spec})["pipeline"]

    def list(self) -> list[dict[str, Any]]:
        return self.client.get(API)["pipelines"]

    def get(self, name: str, limit: int = 20) -> dict[str, Any]:
        """``{"pipeline", "runs"}``."""
        return self.client.get(f"{API}/{quote(name)}", limit=limit)

    def runs(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.client.get(f"{API}/{quote(name)}/runs", limit=limit)["runs"]

    def run(self, name: str, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.client.post(f"{API}/{quote(name)}/run", {"trigger": trigger or {}})["run"]

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/pipeline-runs/{quote(run_id)}")["run"]

    def pause(self, name: str) -> dict[str, Any]:
        return self.client.post(f"{API}/{quote(name)}/pause")["pipeline"]

    def resume(self, name: str) -> dict[str, Any]:
        return self.client.post(f"{API}/{quote(name)}/resume")["pipeline"]

    def delete(self, name: str) -> None:
        self.client.delete(f"{API}/{quote(name)}")
