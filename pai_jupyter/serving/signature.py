"""Model signatures (input/output names, dtypes, shapes) and compatibility between versions.

A signature is ``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``;
``shape`` lists dimensions with ``None`` for any size (the batch), ``dtype`` or
``shape`` may be ``None`` when unknown (then they are not compared).

``read_signature`` loads the model, so the control plane runs it in a child
process (``python -m pai_jupyter.serving.signature``) to keep torch and
onnxruntime out of its own memory and to survive a model that crashes on load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..controlplane.private import child_environ, child_umask
from ..errors import PaiError, ValidationError
from .processors import load_processor
from .processors.base import Signature, normalise_signature

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
) -> Signature:
    """``read_signature`` in a child process; its one-line error comes back as a PaiError."""
    if declared or processor == "custom":
        return read_signature(model_path, processor, declared)
    proc = await asyncio.create_subprocess_exec(
        python or sys.executable,
        "-m",
        "pai_jupyter.serving.signature",
        "--model",
        str(model_path),
        "--processor",
        processor,
        *(["--trust-pickle"] if trust_pickle else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_environ(),  # loading a model may run its code: no control plane token
        umask=child_umask(),
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


def compare(old: Signature, new: Signature) -> list[str]:
    """What a client of ``old`` would find broken in ``new`` (empty: compatible).

    Inputs must keep their names, dtypes and shapes, and no input may be added
    (old clients do not send it); outputs may be added, not removed or changed.
    Unknown dtypes or shapes (``None``) and ``None`` dimensions match anything.
    """
    diffs: list[str] = []
    old_in, new_in = _by_name(old.get("inputs", [])), _by_name(new.get("inputs", []))
    old_out, new_out = _by_name(old.get("outputs", [])), _by_name(new.get("outputs", []))
    if not old_in and not old_out:
        return diffs  # nothing declared on the serving side: nothing to hold the new one to
    for name, spec in old_in.items():
        if name not in new_in:
            diffs.append(f"input {name!r} removed")
        else:
            diffs.extend(_field_diffs("input", name, spec, new_in[name]))
    diffs.extend(f"input {name!r} added" for name in new_in if name not in old_in)
    for name, spec in old_out.items():
        if name not in new_out:
            diffs.append(f"output {name!r} removed")
        else:
            diffs.extend(_field_diffs("output", name, spec, new_out[name]))
    return diffs


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(i.get("name")): i for i in items}


def _field_diffs(side: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    if old.get("dtype") and new.get("dtype") and old["dtype"] != new["dtype"]:
        out.append(f"{side} {name!r} dtype {old['dtype']} -> {new['dtype']}")
    a, b = old.get("shape"), new.get("shape")
    if a is not None and b is not None:
        clash = len(a) != len(b) or any(
            x is not None and y is not None and x != y for x, y in zip(a, b, strict=False)
        )
        if clash:
            out.append(f"{side} {name!r} shape {_fmt(a)} -> {_fmt(b)}")
    return out


def _fmt(shape: list[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


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
