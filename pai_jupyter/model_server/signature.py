"""Model signatures (input/output names, dtypes, shapes) and compatibility between versions.

A signature is ``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``;
``shape`` lists dimensions with ``None`` for any size (the batch), ``dtype`` or
``shape`` may be ``None`` when unknown (then they are not compared).

``read_signature`` loads the model, so the control plane runs it in a child
process (``python -m pai_jupyter.model_server.signature``) to keep torch and
onnxruntime out of its own memory and to survive a model that crashes on load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..decisions.signature import Signature
from ..errors import PaiError, ValidationError
from .processors import load_processor
from .processors.base import normalise_signature

READ_TIMEOUT = 120.0


def read_signature(
    model_path: Path, processor: str, declared: dict[str, Any] | None = None, trust_pickle: bool = False
) -> Signature:
    """The declared signature when given, else the one read from the model."""
    if declared:
        return normalise_signature(declared)
    if processor == "custom":
        return {"inputs": [], "outputs": []}  # a command declares its signature or has none
    return load_processor(processor, model_path, trust_pickle=trust_pickle).signature()


async def read_signature_isolated(
    model_path: Path,
    processor: str,
    declared: dict[str, Any] | None = None,
    python: str | None = None,
    trust_pickle: bool = False,
    env: dict[str, str] | None = None,
    umask: int = -1,
) -> Signature:
    """``read_signature`` in a child process; its one-line error comes back as a PaiError.

    ``env`` / ``umask``: the child's environment and umask (the control plane passes its private
    ones: loading a model may run its code, so the child gets no control plane token)."""
    if declared or processor == "custom":
        return read_signature(model_path, processor, declared)
    proc = await asyncio.create_subprocess_exec(
        python or sys.executable,
        "-m",
        "pai_jupyter.model_server.signature",
        "--model",
        str(model_path),
        "--processor",
        processor,
        *(["--trust-pickle"] if trust_pickle else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        umask=umask,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), READ_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise ValidationError(f"reading the model's signature took over {READ_TIMEOUT:g}s") from None
    try:
        data = json.loads(out.decode() or "{}")
    except ValueError:
        data = {}
    if proc.returncode != 0 or "error" in data:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ValidationError(
            f"cannot load the model with the {processor} processor: {data.get('error') or tail[0]}",
            data.get("hint") or "check --processor and the model file",
        )
    return normalise_signature(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a model's signature as JSON.")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--processor", required=True)
    parser.add_argument("--trust-pickle", action="store_true", help="Allow unpickling (runs code from the file).")
    args = parser.parse_args(argv)
    try:
        signature = read_signature(args.model, args.processor, trust_pickle=args.trust_pickle)
    except PaiError as exc:
        print(json.dumps(exc.to_json()))
        return 2
    except Exception as exc:  # a model that fails to load: one line back to the control plane
        print(json.dumps({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}))
        return 2
    print(json.dumps(signature))
    return 0


if __name__ == "__main__":
    sys.exit(main())
