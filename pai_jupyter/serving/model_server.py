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

Predictions run on the event loop thread: the models served here answer in
well under a millisecond to a few milliseconds, where a thread hop costs more
than it saves; a slow model is scaled out with more instances, not threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from ..errors import PaiError
from .processors import BUILTIN, load_processor
from .processors.base import InputError, Processor

log = logging.getLogger("pai_jupyter.serving.model_server")
MAX_BODY = 256 * 2**20  # the gateway enforces the service's own, smaller limit


def build_app(processor: Processor) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    pid = os.getpid()
    health_body = json.dumps({"ok": True, "processor": processor.name, "pid": pid}).encode()
    signature_body = json.dumps(processor.signature()).encode()

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=health_body, content_type="application/json")

    async def signature(request: web.Request) -> web.Response:
        return web.Response(body=signature_body, content_type="application/json")

    async def predict(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.read())
        except ValueError:
            return _error(400, "the request body is not JSON", 'send {"inputs": [[...], ...]}')
        if not isinstance(data, dict) or "inputs" not in data:
            return _error(400, "the request body has no 'inputs'", 'send {"inputs": [[...], ...]}')
        params = {k: v for k, v in data.items() if k != "inputs"}
        try:
            outputs = processor.predict(data["inputs"], params)
        except InputError as exc:
            return _error(400, str(exc), "GET the service's signature for input names, dtypes and shapes")
        except PaiError as exc:
            return _error(400, exc.message, exc.hint)
        except Exception as exc:
            log.exception("prediction failed")
            return _error(500, f"the model failed: {type(exc).__name__}: {exc}"[:300], None)
        return web.Response(body=json.dumps({"outputs": outputs}).encode(), content_type="application/json")

    app.router.add_get("/health", health)
    app.router.add_get("/signature", signature)
    app.router.add_post("/predict", predict)
    return app


def _error(status: int, message: str, hint: str | None) -> web.Response:
    return web.json_response({"error": message, "hint": hint}, status=status)


async def serve(processor: Processor, host: str, port: int) -> None:
    runner = web.AppRunner(build_app(processor), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    log.info("serving %s on %s:%d (pid %d)", processor.name, host, port, os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


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
    try:
        asyncio.run(serve(processor, args.host, args.port))
    except OSError as exc:  # the port was taken between choosing and binding it
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
