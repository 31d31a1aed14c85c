"""Our model server inside an EAS custom container (the aliyun backend's runtime for every model format).

    LISTENING_PORT=8000 PAI_PROCESSOR=onnx PAI_MODEL_DIR=/eas/workspace/model \\
        python -m pai_jupyter.model_server.eas_container

EAS forwards ``/api/predict/<service>[/<rest>]`` to the container as ``/[<rest>]``
(the service-invocation doc: container services append their own route; a
wrong path answers 404), and both Alibaba's ``eas-prediction`` client and
plain HTTP clients post to the bare endpoint. So this server answers a
prediction on ``POST /`` as well as on ``POST /predict``, with the same JSON
``{"inputs": ...}`` -> ``{"outputs": ...}`` as the local model server
(``model_server.build_handler``: the same handler, the same processors).
``GET /`` is the health check EAS's readiness probe may send.

Configuration comes from the environment the service JSON sets
(``containers[].env``): ``LISTENING_PORT`` (the PAI SDK's name for the port),
``PAI_PROCESSOR``, ``PAI_MODEL_DIR`` (where ``storage[]`` mounts the model)
and ``PAI_SERVING_THREADS``. Only the standard library, NumPy and the model's
framework are imported: that is all the container's ``prepare.pythonRequirements``
installs beside the mounted ``pai_jupyter`` runtime.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from ..errors import PaiError
from .httpserver import Handler, serve_forever
from .processors import BUILTIN, load_processor
from .server import MAX_BODY, build_handler, make_batcher, warm_up

PORT_ENV = "LISTENING_PORT"
PROCESSOR_ENV = "PAI_PROCESSOR"
MODEL_DIR_ENV = "PAI_MODEL_DIR"
TRUST_PICKLE_ENV = "PAI_TRUST_PICKLE"
BATCH_SIZE_ENV = "PAI_MAX_BATCH_SIZE"
BATCH_TIMEOUT_ENV = "PAI_MAX_BATCH_TIMEOUT_MS"
DEFAULT_PORT = 8000
DEFAULT_MODEL_DIR = "/eas/workspace/model"
log = logging.getLogger("pai_jupyter.model_server.eas_container")


def container_handler(inner: Handler) -> Handler:
    """``inner`` (the local model server's handler) with ``/`` meaning ``/predict`` or ``/health``."""

    def handle(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path in ("", "/"):
            path = "/predict" if method == "POST" else "/health"
        return inner(method, path, query, headers, body)

    return handle


def _int_or_none(value: str | None) -> int | None:
    return None if value in (None, "", "None") else int(value)


def main(environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    processor_name = env.get(PROCESSOR_ENV, "")
    if processor_name not in BUILTIN:
        print(f"error: {PROCESSOR_ENV}={processor_name!r} is not one of {', '.join(BUILTIN)}", file=sys.stderr)
        return 2
    try:
        port = int(env.get(PORT_ENV) or DEFAULT_PORT)
    except ValueError:
        print(f"error: {PORT_ENV}={env.get(PORT_ENV)!r} is not a port number", file=sys.stderr)
        return 2
    model_dir = Path(env.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR)
    try:
        # validated at deploy (specs/batching.py); the service JSON carries both or neither
        batch_size, batch_timeout_ms = (
            _int_or_none(env.get(BATCH_SIZE_ENV)),
            _int_or_none(env.get(BATCH_TIMEOUT_ENV)),
        )
        processor = load_processor(
            processor_name,
            model_dir,
            int(env.get("PAI_SERVING_THREADS") or 1),
            trust_pickle=env.get(TRUST_PICKLE_ENV) == "1",
        )
    except (PaiError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    warm_up(processor)
    batcher = make_batcher(processor, batch_size, batch_timeout_ms)
    host = env.get("PAI_LISTEN_HOST") or "0.0.0.0"
    log.info("serving %s from %s on %s:%d", processor.name, model_dir, host, port)
    try:
        asyncio.run(serve_forever(container_handler(build_handler(processor, batcher)), host, port, MAX_BODY))
    except OSError as exc:
        print(f"error: cannot listen on port {port}: {exc.strerror}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
