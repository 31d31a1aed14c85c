"""What every built-in processor offers, and the JSON <-> array conversions they share.

Wire shape (built-in processors): the request is ``{"inputs": X}`` where ``X``
is an array (nested lists) for the model's first input, or an object mapping
input names to arrays. The response is ``{"outputs": Y}``: an array when the
model has one output, else an object mapping output names to arrays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...decisions.signature import Signature
from ...errors import NotFoundError, ValidationError

SIGNATURE_FILE = "signature.json"


class Processor(Protocol):
    name: str

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        """JSON-ready outputs for JSON ``inputs``; ``params`` are the request's other keys."""
        ...

    def signature(self) -> Signature: ...


class InputError(ValueError):
    """The request's inputs do not fit the model (answered with 400)."""


def find_model_file(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` itself, or the one file with one of ``suffixes`` inside the folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise NotFoundError(f"model path {path} does not exist")
    found = [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes]
    if len(found) != 1:
        listed = ", ".join(p.name for p in found[:5])
        raise ValidationError(
            f"expected one {what} file ({'/'.join(suffixes)}) in {path.name}, found {len(found) or 'none'}"
            + (f": {listed}" if found else ""),
            "point --model at the file itself",
        )
    return found[0]


def declared_signature(model_path: Path) -> Signature | None:
    """A ``signature.json`` beside the model (or inside its folder), when present."""
    model_path = Path(model_path)
    folder = model_path if model_path.is_dir() else model_path.parent
    candidate = folder / SIGNATURE_FILE
    if not candidate.is_file():
        return None
    try:
        data = json.loads(candidate.read_text())
    except ValueError as exc:
        raise ValidationError(f"{candidate.name} is not valid JSON: {exc}") from None
    return normalise_signature(data)


def normalise_signature(data: Any) -> Signature:
    if not isinstance(data, dict):
        raise ValidationError("a signature must be an object with 'inputs' and 'outputs' lists")
    out: Signature = {}
    for side in ("inputs", "outputs"):
        items = data.get(side) or []
        if not isinstance(items, list):
            raise ValidationError(f"signature {side!r} must be a list of {{name, dtype, shape}}")
        out[side] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValidationError(f"signature {side}[{i}] must be an object with name, dtype, shape")
            shape = item.get("shape")
            out[side].append(
                {
                    "name": str(item.get("name") or f"{side[:-1]}_{i}"),
                    "dtype": str(item["dtype"]) if item.get("dtype") else None,
                    "shape": [d if isinstance(d, int) and d >= 0 else None for d in shape]
                    if isinstance(shape, list)
                    else None,
                }
            )
    return out


def feed(inputs: Any, specs: list[dict[str, Any]], default_dtype: str = "float32") -> dict[str, np.ndarray]:
    """Arrays by input name from ``{"inputs": [...]}`` (first input) or ``{"inputs": {name: [...]}}``."""
    if not specs:
        raise InputError("the model declares no inputs")
    by_name = {s["name"]: s for s in specs}
    if isinstance(inputs, dict):
        unknown = sorted(set(inputs) - set(by_name))
        if unknown:
            raise InputError(f"unknown input(s) {unknown}; the model takes {sorted(by_name)}")
        missing = sorted(set(by_name) - set(inputs))
        if missing:
            raise InputError(f"missing input(s) {missing}")
        pairs = [(name, inputs[name]) for name in by_name]
    else:
        if len(specs) > 1:
            raise InputError(f"the model takes {len(specs)} inputs; send an object {{name: array}}")
        pairs = [(specs[0]["name"], inputs)]
    out = {}
    for name, value in pairs:
        dtype = by_name[name].get("dtype") or default_dtype
        try:
            out[name] = np.asarray(value, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise InputError(f"input {name!r} is not a {dtype} array: {exc}") from None
        check_shape(name, out[name].shape, by_name[name].get("shape"))
    return out


def check_shape(name: str, shape: tuple[int, ...], declared: list[int | None] | None) -> None:
    if declared is None:
        return
    if len(shape) != len(declared) or any(d is not None and d != s for s, d in zip(shape, declared, strict=False)):
        want = "[" + ", ".join("?" if d is None else str(d) for d in declared) + "]"
        raise InputError(f"input {name!r} has shape {list(shape)}, the model wants {want}")


def feature_matrix(inputs: Any, dtype: str, model: str, n_features: int | None) -> np.ndarray:
    """A tabular model's one input as 2-D ``dtype`` rows (one flat row is accepted), checked against its width.

    ``model`` names the model in messages, e.g. "an XGBoost model".
    """
    if isinstance(inputs, dict):
        if len(inputs) != 1:
            raise InputError(f"{model} takes one input array")
        inputs = next(iter(inputs.values()))
    try:
        array = np.asarray(inputs, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise InputError(f"inputs are not a numeric array: {exc}") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if n_features is not None:
        check_shape("input", array.shape, [None, int(n_features)])
    return array


def jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def named_outputs(names: list[str], values: list[Any]) -> Any:
    """One output -> its array; several -> ``{name: array}``."""
    if len(values) == 1:
        return jsonable(values[0])
    return {n: jsonable(v) for n, v in zip(names, values, strict=False)}


def dims(shape: Any) -> list[int | None] | None:
    if shape is None:
        return None
    return [d if isinstance(d, int) and d >= 0 else None for d in shape]
