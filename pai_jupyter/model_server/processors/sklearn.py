"""scikit-learn (and any estimator with ``predict``): skops files, or joblib/pickle when trusted.

A ``.skops`` file (``skops.io.dump``) is loaded with skops' default trusted
types only: no code from the file runs, and a file naming any other type is
refused with the types it names. Loading a pickle (``.pkl``, ``.pickle``,
``.joblib``) runs whatever code it holds, by design of the format, so a pickle
is refused unless the deploy says it trusts it (``--trust-pickle``, the
``ServiceSpec.trust_pickle`` field, or ``c.PaiConfig.trust_pickle``).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ...decisions.signature import Signature
from ...errors import ValidationError
from ..batching import Prepared, prepared
from .base import InputError, declared_signature, feature_matrix, find_model_file, jsonable

log = logging.getLogger(__name__)
METHODS = ("predict", "predict_proba", "decision_function", "transform")
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
SKOPS_SUFFIX = ".skops"


def model_file(model_path: Path) -> Path:
    """The scikit-learn model file at ``model_path`` (the file, or the one such file in the folder)."""
    return find_model_file(model_path, (SKOPS_SUFFIX, *PICKLE_SUFFIXES), "scikit-learn (.skops/.joblib/.pkl)")


def is_pickle(file: Path) -> bool:
    """Everything that is not a skops file is read with pickle."""
    return file.suffix.lower() != SKOPS_SUFFIX


def pickle_refusal(file: Path) -> ValidationError:
    return ValidationError(
        f"{file.name} is a pickle: loading it runs whatever code it holds, so it is not loaded unless trusted",
        "for a model you made or trust pass --trust-pickle (or set c.PaiConfig.trust_pickle = True); "
        "better, save it with skops (skops.io.dump(model, 'model.skops')) and deploy that",
    )


def load_skops(file: Path) -> Any:
    """Load a skops file with skops' default trusted types only (no code from the file runs)."""
    try:
        import skops.io as sio
    except ImportError:
        raise ValidationError(
            f"{file.name} is a skops file and skops is not installed", "pip install 'pai-jupyter[serving]'"
        ) from None
    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:  # not a skops archive, or a damaged one
        raise ValidationError(f"{file.name} is not a readable skops file: {exc}") from None
    if untrusted:
        shown = ", ".join(untrusted[:5]) + (f" and {len(untrusted) - 5} more" if len(untrusted) > 5 else "")
        raise ValidationError(
            f"{file.name} names types skops does not trust by default: {shown}",
            "save a plain scikit-learn estimator or pipeline, or deploy a pickle with --trust-pickle",
        )
    return sio.load(file)


class SklearnProcessor:
    name = "sklearn"

    def __init__(self, model_path: Path, threads: int = 1, trust_pickle: bool = False) -> None:
        self.file = model_file(model_path)
        if not is_pickle(self.file):
            self.model = load_skops(self.file)
        elif not trust_pickle:
            raise pickle_refusal(self.file)
        else:
            log.warning(
                "loading %s with pickle: it runs code from the file (trusted by --trust-pickle)", self.file
            )
            try:
                import joblib

                self.model = joblib.load(self.file)
            except (ImportError, pickle.UnpicklingError, KeyError, ValueError):
                with open(self.file, "rb") as fh:
                    self.model = pickle.load(fh)
        if not hasattr(self.model, "predict"):
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
