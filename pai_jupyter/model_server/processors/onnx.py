"""ONNX models through onnxruntime (CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...decisions.signature import Signature
from ..batching import Prepared, prepared
from .base import InputError, declared_signature, dims, feed, find_model_file, named_outputs

# onnxruntime type strings -> numpy dtype names.
_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class OnnxProcessor:
    name = "onnx"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.file = find_model_file(model_path, (".onnx",), "ONNX")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
        self._signature = {
            "inputs": [_spec(i) for i in self.session.get_inputs()],
            "outputs": [_spec(o) for o in self.session.get_outputs()],
        }
        self._output_names = [o["name"] for o in self._signature["outputs"]]
        # Batching concatenates requests on axis 0: only where the model leaves that axis free.
        self._fixed_rows = any(
            not s["shape"] or s["shape"][0] is not None for s in self._signature["inputs"]
        ) or any(s["shape"] and s["shape"][0] is not None for s in self._signature["outputs"])

    def signature(self) -> Signature:
        return declared_signature(self.file) or self._signature

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        item = self.prepare(inputs, params)
        return self.to_json(self.run(item.arrays, item.params))

    def prepare(self, inputs: Any, params: dict[str, Any]) -> Prepared:
        return prepared(feed(inputs, self._signature["inputs"]), params, fixed_rows=self._fixed_rows)

    def run(self, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> list[np.ndarray]:
        try:
            return list(self.session.run(self._output_names, arrays))
        except Exception as exc:  # onnxruntime raises its own types for bad shapes and values
            raise InputError(str(exc).splitlines()[0][:300]) from None

    def to_json(self, outputs: list[np.ndarray]) -> Any:
        return named_outputs(self._output_names, outputs)


def _spec(arg: Any) -> dict[str, Any]:
    return {"name": arg.name, "dtype": _TYPES.get(arg.type, arg.type), "shape": dims(arg.shape)}
