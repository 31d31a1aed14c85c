"""TensorFlow SavedModel (its ``serving_default`` signature), when TensorFlow is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...decisions.signature import Signature
from ...errors import ValidationError
from .base import InputError, declared_signature, dims, feed, named_outputs


class TensorFlowProcessor:
    name = "tensorflow"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        try:
            import tensorflow as tf
        except ImportError:
            raise ValidationError(
                "the tensorflow processor needs TensorFlow, which is not installed here",
                "pip install tensorflow-cpu, or export the model to ONNX (tf2onnx) and use --processor onnx",
            ) from None
        self.tf = tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        self.folder = Path(model_path)
        if not (self.folder / "saved_model.pb").exists():
            raise ValidationError(f"{self.folder.name} is not a SavedModel folder (no saved_model.pb)")
        loaded = tf.saved_model.load(str(self.folder))
        if "serving_default" not in loaded.signatures:
            raise ValidationError("the SavedModel has no 'serving_default' signature")
        self._loaded = loaded
        self.fn = loaded.signatures["serving_default"]
        _, kwargs = self.fn.structured_input_signature
        self._inputs = [
            {"name": name, "dtype": spec.dtype.name, "shape": dims(spec.shape.as_list())}
            for name, spec in sorted(kwargs.items())
        ]
        self._outputs = [
            {"name": name, "dtype": spec.dtype.name, "shape": dims(spec.shape.as_list())}
            for name, spec in sorted(self.fn.structured_outputs.items())
        ]

    def signature(self) -> Signature:
        return declared_signature(self.folder) or {"inputs": self._inputs, "outputs": self._outputs}

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        arrays = feed(inputs, self._inputs)
        try:
            result = self.fn(**{k: self.tf.constant(v) for k, v in arrays.items()})
        except (ValueError, TypeError, self.tf.errors.InvalidArgumentError) as exc:
            raise InputError(str(exc).splitlines()[0][:300]) from None
        names = [o["name"] for o in self._outputs]
        return named_outputs(names, [np.asarray(result[n]) for n in names])
