"""One model instance: one process serving one built-in processor over HTTP.

    python -m pai_jupyter.serving.model_server --model PATH --processor onnx --port 8123

Routes:
- ``GET /health``: ``{"ok": true, "processor", "pid"}`` once the model is loaded
  (the port only opens after loading, so "connects" already means "loaded");
- ``GET /signature``: the model's signature;
- ``POST /predict``: body ``{"inputs": X, ...}`` -> ``{"outputs": Y}``. ``X`` is an
  array for the model's first input or ``{input name: array}``; ``Y`` is an
  array when the model has one output, else ``{output name: array}``. Other keys
  are processor options (scikit-learn: ``"method": "predict_proba"``). Bad input
  -> 400 ``{"error", "hint"}``; a failure inside the model -> 500.

Predictions run on the event loop thread of a minimal HTTP server
(``httpserver``): the models served here answer in well under a millisecond to
a few milliseconds, where a thread hop or a web framework costs more than it
saves; a slow model is scaled out with more instances, not threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from ..errors import PaiError
from .envconfig import env_overrides
from .http1 import Limits
from .httpserver import Handler, serve_forever
from .processors import BUILTIN, load_processor
from .processors.base import InputError, Processor

log = logging.getLogger("pai_jupyter.serving.model_server")
JSON = "application/json"
MAX_BODY = 256 * 2**20  # the gateway enforces the service's own, smaller limit
_HINT_SHAPE = "GET the service's signature for input names, dtypes and shapes"
_HINT_BODY = 'send {"inputs": [[...], ...]}'


def build_handler(processor: Processor) -> Handler:
    health = json.dumps({"ok": True, "processor": processor.name, "pid": os.getpid()}).encode()
    signature = json.dumps(processor.signature()).encode()

    def handle(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path == "/predict":
            if method != "POST":
                return _error(405, "use POST /predict", _HINT_BODY)
            return predict(body)
        if path == "/health" and method in ("GET", "HEAD"):
            return 200, JSON, health
        if path == "/signature" and method in ("GET", "HEAD"):
            return 200, JSON, signature
        return _error(404, f"no route {method} {path}", "POST /predict, GET /health, GET /signature")

    def predict(body: bytes) -> tuple[int, str, bytes]:
        try:
            data = json.loads(body)
        except ValueError:
            return _error(400, "the request body is not JSON", _HINT_BODY)
        if not isinstance(data, dict) or "inputs" not in data:
            return _error(400, "the request body has no 'inputs'", _HINT_BODY)
        params = {k: v for k, v in data.items() if k != "inputs"}
        try:
            outputs = processor.predict(data["inputs"], params)
        except InputError as exc:
            return _error(400, str(exc), _HINT_SHAPE)
        except PaiError as exc:
            return _error(400, exc.message, exc.hint)
        except Exception as exc:
            log.exception("prediction failed")
            return _error(500, f"the model failed: {type(exc).__name__}: {exc}"[:300], None)
        return 200, JSON, json.dumps({"outputs": outputs}).encode()

    return handle


def warm_up(processor: Processor, rounds: int = 3) -> bool:
    """Run a few predictions on zeros shaped like the signature before the port opens.

    First calls into a runtime (allocations, lazy kernels) are several times
    slower than later ones; taken by a real request during a rollout step, that
    outlier alone can breach a p95 gate. Best effort: False when the signature
    does not say enough to build an input.
    """
    import numpy as np

    inputs = {}
    for spec in processor.signature().get("inputs", []):
        if not spec.get("dtype") or spec.get("shape") is None or spec["dtype"] == "str":
            return False
        shape = [1 if d is None else d for d in spec["shape"]]
        inputs[spec["name"]] = np.zeros(shape, dtype=spec["dtype"]).tolist()
    if not inputs:
        return False
    try:
        for _ in range(rounds):
            processor.predict(inputs, {})
    except Exception as exc:  # a model that rejects zeros still serves real inputs
        log.info("warm-up skipped: %s", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        return False
    return True


def _error(status: int, message: str, hint: str | None) -> tuple[int, str, bytes]:
    return status, JSON, json.dumps({"error": message, "hint": hint}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one model over HTTP (one instance).")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--processor", required=True, choices=BUILTIN)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("PAI_SERVING_THREADS", "1")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        processor = load_processor(args.processor, args.model, args.threads)
    except PaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    warm_up(processor)
    try:
        # PAI_SERVING_HEAD_TIMEOUT_S / _IDLE_TIMEOUT_S / _MAX_CONNECTIONS, as for the gateway
        limits = env_overrides(Limits())
    except PaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        log.info("serving %s on %s:%d (pid %d)", processor.name, args.host, args.port, os.getpid())
        asyncio.run(serve_forever(build_handler(processor), args.host, args.port, MAX_BODY, limits))
    except OSError as exc:  # the port was taken between choosing and binding it
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
