"""scikit-learn (and any estimator with ``predict``) saved with joblib or pickle.

Loading a pickle runs code from it: serve only models you trained or trust,
as on EAS.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import Prepared, prepared
from .base import InputError, Signature, declared_signature, feature_matrix, find_model_file, jsonable

METHODS = ("predict", "predict_proba", "decision_function", "transform")


class SklearnProcessor:
    name = "sklearn"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self.file = find_model_file(model_path, (".joblib", ".pkl", ".pickle"), "joblib/pickle")
        try:
            import joblib

            self.model = joblib.load(self.file)
        except (ImportError, pickle.UnpicklingError, KeyError, ValueError):
            with open(self.file, "rb") as fh:
                self.model = pickle.load(fh)
        if not hasattr(self.model, "predict"):
            from ...errors import ValidationError

            raise ValidationError(f"{self.file.name} holds a {type(self.model).__name__}, which has no predict()")
        self.n_features = getattr(self.model, "n_features_in_", None)

    def signature(self) -> Signature:
        declared = declared_signature(self.file)
        if declared:
            return declared
        classes = getattr(self.model, "classes_", None)
        out_dtype = str(np.asarray(classes).dtype) if classes is not None else "float64"
        return {
            "inputs": [
                {
                    "name": "input",
                    "dtype": "float64",
                    "shape": [None, int(self.n_features)] if self.n_features is not None else None,
                }
            ],
            "outputs": [{"name": "output", "dtype": out_dtype, "shape": [None]}],
        }

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        item = self.prepare(inputs, params)
        return self.to_json(self.run(item.arrays, item.params))

    def prepare(self, inputs: Any, params: dict[str, Any]) -> Prepared:
        method = params.get("method", "predict")
        if not isinstance(method, str) or method not in METHODS or not hasattr(self.model, method):
            raise InputError(f"method {method!r} is not available; use one of {list(METHODS)}")
        array = feature_matrix(inputs, "float64", "a scikit-learn model", self.n_features)
        return prepared({"input": array}, {"method": method})

    def run(self, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        return np.asarray(getattr(self.model, params["method"])(arrays["input"]))

    def to_json(self, outputs: Any) -> Any:
        return jsonable(outputs)
