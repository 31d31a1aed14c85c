"""TorchScript modules (``torch.jit.save``), on CPU.

The signature is declared (``signature.json`` beside the model, or the service
spec's ``signature``), or measured by running the module on an example
(``example.json`` beside the model: ``{"inputs": ...}`` in the wire shape), or,
lacking both, the argument names of ``forward`` with dtype and shape unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...decisions.signature import Signature
from ...errors import ValidationError
from ..batching import Prepared, prepared
from .base import InputError, check_shape, declared_signature, find_model_file, jsonable

EXAMPLE_FILE = "example.json"


class TorchScriptProcessor:
    name = "torchscript"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        self.file = find_model_file(model_path, (".pt", ".pth", ".torchscript"), "TorchScript")
        try:
            self.module = torch.jit.load(str(self.file), map_location="cpu")
        except RuntimeError as exc:
            raise ValidationError(
                f"{self.file.name} is not a TorchScript module: {str(exc).splitlines()[0][:200]}",
                "save it with torch.jit.save(torch.jit.script(model), path)",
            ) from None
        self.module.eval()
        args = self.module.forward.schema.arguments[1:]  # skip self
        self.arg_names = [a.name for a in args]
        self._declared = declared_signature(self.file)
        self._signature = self._declared or self._from_example() or self._from_schema()
        self._dtypes = {s["name"]: s.get("dtype") or "float32" for s in self._signature["inputs"]}

    def signature(self) -> Signature:
        return self._signature

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        item = self.prepare(inputs, params)
        return self.to_json(self.run(item.arrays, item.params))

    def prepare(self, inputs: Any, params: dict[str, Any]) -> Prepared:
        return prepared(self._arrays(inputs), {})

    def run(self, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        return _to_numpy(self._call(arrays))

    def to_json(self, outputs: Any) -> Any:
        return jsonable(outputs)

    def _run(self, inputs: Any) -> Any:
        return self._call(self._arrays(inputs))

    def _arrays(self, inputs: Any) -> dict[str, np.ndarray]:
        """The request's inputs as numpy arrays by ``forward`` argument name, in argument order."""
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - set(self.arg_names))
            if unknown:
                raise InputError(f"unknown input(s) {unknown}; forward takes {self.arg_names}")
            names = [n for n in self.arg_names if n in inputs]
            values = [inputs[n] for n in names]
        else:
            names, values = self.arg_names[:1], [inputs]
        # Shapes are checked where the user declared them; one measured on example.json is only an example.
        declared = getattr(self, "_declared", None)
        shapes = {s["name"]: s.get("shape") for s in declared["inputs"]} if declared else {}
        arrays = {}
        for name, value in zip(names, values, strict=False):
            try:
                arrays[name] = np.asarray(value, dtype=self._dtypes.get(name, "float32"))
            except (ValueError, TypeError) as exc:
                raise InputError(f"input {name!r} is not a numeric array: {exc}") from None
            check_shape(name, arrays[name].shape, shapes.get(name))
        return arrays

    def _call(self, arrays: dict[str, np.ndarray]) -> Any:
        torch = self.torch
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays.values()]
        try:
            with torch.inference_mode():
                result = self.module(*tensors)
        except (RuntimeError, torch.jit.Error) as exc:
            raise InputError(_last_line(str(exc))) from None
        return result

    def _from_example(self) -> Signature | None:
        path = self.file.parent / EXAMPLE_FILE
        if not path.is_file():
            return None
        try:
            inputs = json.loads(path.read_text())["inputs"]
        except (ValueError, KeyError, TypeError):
            raise ValidationError(f'{EXAMPLE_FILE} must hold {{"inputs": ...}}') from None
        self._dtypes = {}
        try:
            output = _to_numpy(self._run(inputs))
        except InputError as exc:
            raise ValidationError(f"the module fails on {EXAMPLE_FILE}: {exc}") from None
        ins = inputs if isinstance(inputs, dict) else {self.arg_names[0]: inputs}
        outs = output if isinstance(output, dict) else {"output": output}
        return {
            "inputs": [_measured(n, np.asarray(v, dtype="float32")) for n, v in ins.items()],
            "outputs": [_measured(n, np.asarray(v)) for n, v in outs.items()],
        }

    def _from_schema(self) -> Signature:
        return {
            "inputs": [{"name": n, "dtype": None, "shape": None} for n in self.arg_names],
            "outputs": [{"name": "output", "dtype": None, "shape": None}],
        }


def _measured(name: str, array: np.ndarray) -> dict[str, Any]:
    shape: list[int | None] = list(array.shape)
    if shape:
        shape[0] = None  # the batch dimension
    return {"name": name, "dtype": str(array.dtype), "shape": shape}


def _to_numpy(result: Any) -> Any:
    if hasattr(result, "detach"):
        return result.detach().cpu().numpy()
    if isinstance(result, dict):
        return {str(k): _to_numpy(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return {f"output_{i}": _to_numpy(v) for i, v in enumerate(result)}
    return np.asarray(result)


def _last_line(message: str) -> str:
    """The error itself, not the TorchScript traceback above it (e.g. "builtins.ValueError: ...")."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "the module failed"
    last = lines[-1] if len(lines) > 1 and "Traceback" in message else lines[0]
    return last.removeprefix("builtins.")[:300]
