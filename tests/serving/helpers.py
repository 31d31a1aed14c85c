"""Helpers for serving tests over real HTTP: upload and deploy a model, send requests, steady load."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import requests

from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.records import ServiceRecord
from pai_jupyter.specs.service import ServiceSpec
from pai_jupyter.storage.uri import OssUri


def upload(backend: LocalBackend, path: Path) -> str:
    """Put a model file or folder in local storage; return its oss:// URI."""
    uri = OssUri("models", f"{secrets.token_hex(4)}/")
    if path.is_dir():
        return str(backend.storage.upload(path, uri))
    return str(backend.storage.upload(path, uri.join(path.name)))


def deploy(backend: LocalBackend, path: Path, **spec: Any) -> ServiceRecord:
    plan = spec.pop("plan", None)
    new_api = spec.pop("new_api_version", False)
    spec.setdefault("name", "svc")
    spec.setdefault("processor", "onnx")
    return backend.serving.deploy(ServiceSpec(**spec), upload(backend, path), plan=plan, new_api_version=new_api)


def post(
    record: ServiceRecord, token: str, payload: Any, session: requests.Session | None = None
) -> requests.Response:
    s = session or requests
    return s.post(record.endpoint, json=payload, headers={"Authorization": token}, timeout=30)


class Load:
    """Steady background requests from ``threads`` threads; records (status, version) per request."""

    def __init__(self, url: str, token: str, body: bytes, threads: int = 2, pause: float = 0.0) -> None:
        import threading

        self.url, self.token, self.body, self.pause = url, token, body, pause
        self.results: list[tuple[int, str | None, float, float]] = []  # status, version, ended, started
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _run(self) -> None:
        session = requests.Session()
        headers = {"Authorization": self.token, "Content-Type": "application/json"}
        while not self._stop.is_set():
            started = time.time()
            try:
                resp = session.post(self.url, data=self.body, headers=headers, timeout=30)
                self.results.append((resp.status_code, resp.headers.get("X-PAI-Version"), time.time(), started))
            except requests.RequestException:
                self.results.append((0, None, time.time(), started))
            if self.pause:
                time.sleep(self.pause)

    @property
    def failures(self) -> list[tuple[int, str | None, float, float]]:
        return [r for r in self.results if r[0] != 200]
