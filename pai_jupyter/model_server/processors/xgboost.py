"""XGBoost models saved with ``save_model`` (JSON or UBJSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...decisions.signature import Signature
from ..batching import Prepared, prepared
from .base import declared_signature, feature_matrix, find_model_file, jsonable


class XGBoostProcessor:
    name = "xgboost"

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        import xgboost

        self._xgb = xgboost
        self.file = find_model_file(model_path, (".json", ".ubj", ".bst", ".model"), "XGBoost model")
        self.booster = xgboost.Booster(params={"nthread": threads}, model_file=str(self.file))
        self.n_features = self.booster.num_features()
        config = json.loads(self.booster.save_config())
        learner = config.get("learner", {})
        self.objective = learner.get("objective", {}).get("name", "")
        self.num_class = int(learner.get("learner_model_param", {}).get("num_class", "0") or 0)

    def signature(self) -> Signature:
        declared = declared_signature(self.file)
        if declared:
            return declared
        wide = self.objective == "multi:softprob" and self.num_class > 1
        return {
            "inputs": [{"name": "input", "dtype": "float32", "shape": [None, self.n_features]}],
            "outputs": [
                {"name": "output", "dtype": "float32", "shape": [None, self.num_class] if wide else [None]}
            ],
        }

    def predict(self, inputs: Any, params: dict[str, Any]) -> Any:
        item = self.prepare(inputs, params)
        return self.to_json(self.run(item.arrays, item.params))

    def prepare(self, inputs: Any, params: dict[str, Any]) -> Prepared:
        return prepared({"input": feature_matrix(inputs, "float32", "an XGBoost model", self.n_features)}, {})

    def run(self, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        return np.asarray(self.booster.inplace_predict(arrays["input"]))

    def to_json(self, outputs: Any) -> Any:
        return jsonable(outputs)
