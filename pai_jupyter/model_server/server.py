"""One model instance: one process serving one built-in processor over HTTP.

    python -m pai_jupyter.model_server.server --model PATH --processor onnx --port 8123

Routes:
- ``GET /health``: ``{"ok": true, "processor", "pid"}`` once the model is loaded
  (the port only opens after loading, so "connects" already means "loaded");
- ``GET /signature``: the model's signature;
- ``GET /stats``: ``{"batching": null}``, or with batching on its settings and
  how many requests and model rounds (batches) it has run;
- ``POST /predict``: body ``{"inputs": X, ...}`` -> ``{"outputs": Y}``. ``X`` is an
  array for the model's first input or ``{input name: array}``; ``Y`` is an
  array when the model has one output, else ``{output name: array}``. Other keys
  are processor options (scikit-learn: ``"method": "predict_proba"``). Bad input
  -> 400 ``{"error", "hint"}``; a failure inside the model -> 500.

Predictions run on the event loop thread of a minimal HTTP server
(``httpserver``): the models served here answer in well under a millisecond to
a few milliseconds, where a thread hop or a web framework costs more than it
saves; a slow model is scaled out with more instances, not threads.

With ``--max-batch-size N --max-batch-timeout MS`` a built-in processor runs
batched (``batching``): each request is validated on the event loop, queued,
and run with others in one model call on a worker thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from ..errors import PaiError
from .batching import Batcher, BatchingProcessor, Outcome
from .environ import env_overrides
from .http1 import Limits
from .httpserver import Answer, Handler, serve_forever
from .processors import BUILTIN, load_processor
from .processors.base import InputError, Processor

log = logging.getLogger("pai_jupyter.model_server.server")
try:  # parsing the request is most of an instance's own work per request; orjson does it ~7x faster
    import orjson

    def _loads(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:  # NaN, Infinity, huge integers: read as Python's json reads them
            return json.loads(body)

except ImportError:  # the serving extra brings it; without it, the standard library
    _loads = json.loads
JSON = "application/json"
MAX_BODY = 256 * 2**20  # the gateway enforces the service's own, smaller limit
_HINT_SHAPE = "GET the service's signature for input names, dtypes and shapes"
_HINT_BODY = 'send {"inputs": [[...], ...]}'


def build_handler(processor: Processor, batcher: Batcher | None = None) -> Handler:
    health = json.dumps({"ok": True, "processor": processor.name, "pid": os.getpid()}).encode()
    signature = json.dumps(processor.signature()).encode()

    def handle(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Any:
        if path == "/predict":
            if method != "POST":
                return _error(405, "use POST /predict", _HINT_BODY)
            return predict(body)
        if path == "/health" and method in ("GET", "HEAD"):
            return 200, JSON, health
        if path == "/signature" and method in ("GET", "HEAD"):
            return 200, JSON, signature
        if path == "/stats" and method in ("GET", "HEAD"):
            return 200, JSON, json.dumps({"batching": batcher.stats() if batcher else None}).encode()
        return _error(404, f"no route {method} {path}", "POST /predict, GET /health, GET /signature, GET /stats")

    def predict(body: bytes) -> Answer | Awaitable[Answer]:
        try:
            data = _loads(body)
        except ValueError:
            return _error(400, "the request body is not JSON", _HINT_BODY)
        if not isinstance(data, dict) or "inputs" not in data:
            return _error(400, "the request body has no 'inputs'", _HINT_BODY)
        params = {k: v for k, v in data.items() if k != "inputs"}
        try:
            if batcher is not None:  # validated alone, answered after its batch ran
                return batcher.submit(batcher.processor.prepare(data["inputs"], params))  # -> answer()
            outputs = processor.predict(data["inputs"], params)
        except Exception as exc:
            return _failure(exc)
        return 200, JSON, json.dumps({"outputs": outputs}).encode()

    return handle


def answer(outcome: Outcome) -> Answer:
    """A batched request's answer (run by the batcher's worker thread)."""
    if outcome.error is not None:
        return _failure(outcome.error)
    return 200, JSON, json.dumps({"outputs": outcome.value}).encode()


def _failure(exc: BaseException) -> Answer:
    """The answer to a prediction that raised ``exc``: 400 for bad input, 500 for a failing model."""
    if isinstance(exc, InputError):
        return _error(400, str(exc), _HINT_SHAPE)
    if isinstance(exc, PaiError):
        return _error(400, exc.message, exc.hint)
    log.error("prediction failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
    return _error(500, f"the model failed: {type(exc).__name__}: {exc}"[:300], None)


def warm_up(processor: Processor, rounds: int = 3, rows: int = 1) -> bool:
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
        shape = [d for d in spec["shape"]]
        shape = [(rows if i == 0 else 1) if d is None else d for i, d in enumerate(shape)]
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


def make_batcher(processor: Processor, size: int | None, timeout_ms: int | None) -> Batcher | None:
    """A started batcher for ``processor`` (warmed up at full batch size), or None when batching is off."""
    if size is None or timeout_ms is None:
        return None
    if not isinstance(processor, BatchingProcessor):
        log.warning("the %s processor does not batch; serving unbatched", processor.name)
        return None
    batcher = Batcher(processor, size, timeout_ms / 1000, finish=answer)
    warm_up(processor, 1, rows=size)
    return batcher


def _error(status: int, message: str, hint: str | None) -> Answer:
    return status, JSON, json.dumps({"error": message, "hint": hint}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one model over HTTP (one instance).")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--processor", required=True, choices=BUILTIN)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("PAI_SERVING_THREADS", "1")))
    parser.add_argument("--max-batch-size", type=int, default=None, help="requests per batch (off when absent)")
    parser.add_argument("--max-batch-timeout", type=int, default=None, help="ms a queued request waits for others")
    parser.add_argument(
        "--trust-pickle", action="store_true", help="Load a pickled model (it runs code from the file)."
    )
    args = parser.parse_args(argv)
    # imported here: the EAS container imports this module without pai_jupyter.specs (eas_runtime.RUNTIME_FILES)
    from ..specs.batching import batching_options

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        batch_size, batch_timeout_ms = batching_options(args.max_batch_size, args.max_batch_timeout)
        # PAI_SERVING_HEAD_TIMEOUT_S / _IDLE_TIMEOUT_S / _MAX_CONNECTIONS, as for the gateway
        limits = env_overrides(Limits())
        processor = load_processor(args.processor, args.model, args.threads, trust_pickle=args.trust_pickle)
    except PaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    warm_up(processor)
    batcher = make_batcher(processor, batch_size, batch_timeout_ms)
    try:
        log.info(
            "serving %s on %s:%d (pid %d)%s",
            processor.name,
            args.host,
            args.port,
            os.getpid(),
            f", batches of up to {batcher.max_size} within {batcher.timeout_s * 1000:g} ms" if batcher else "",
        )
        asyncio.run(serve_forever(build_handler(processor, batcher), args.host, args.port, MAX_BODY, limits))
    except OSError as exc:  # the port was taken between choosing and binding it
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
