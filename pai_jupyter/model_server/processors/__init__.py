"""Built-in processors: one class per model format, loaded by name.

A processor turns the JSON ``inputs`` of a request into the model's inputs and
the model's outputs into JSON (see ``model_server`` for the wire shape). The
``custom`` processor has no class: it is a user command that listens on
``LISTENING_PORT`` (EAS's custom-container contract, minus the container).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ValidationError
from .base import Processor, find_model_file

BUILTIN = ("onnx", "torchscript", "sklearn", "xgboost", "tensorflow")
PROCESSORS = (*BUILTIN, "custom")

# Suffixes that name a processor when the user does not.
_BY_SUFFIX = {
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".pth": "torchscript",
    ".torchscript": "torchscript",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".joblib": "sklearn",
    ".skops": "sklearn",
    ".ubj": "xgboost",
    ".bst": "xgboost",
}


def check_processor(name: str) -> str:
    if name not in PROCESSORS:
        raise ValidationError(f"unknown processor {name!r}", f"use one of: {', '.join(PROCESSORS)}")
    return name


def detect_processor(path: Path) -> str:
    """Guess the processor from the model's files (``.onnx`` -> onnx, ...)."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "tensorflow"
    files = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path]
    found = {_BY_SUFFIX[p.suffix.lower()] for p in files if p.suffix.lower() in _BY_SUFFIX}
    if not found and any(
        p.suffix.lower() == ".json" and p.name not in ("signature.json", "example.json") for p in files
    ):
        found = {"xgboost"}
    if len(found) == 1:
        return found.pop()
    raise ValidationError(
        f"cannot tell the processor of {path.name}: " + (f"found {sorted(found)}" if found else "no model file"),
        f"pass --processor ({', '.join(PROCESSORS)})",
    )


def load_processor(name: str, model_path: Path, threads: int = 1, trust_pickle: bool = False) -> Processor:
    """Load the model at ``model_path`` (a file, or a folder holding one) with processor ``name``.

    ``trust_pickle``: allow the sklearn processor to unpickle (which runs code from the file).
    """
    check_processor(name)
    if name == "onnx":
        from .onnx import OnnxProcessor

        return OnnxProcessor(model_path, threads)
    if name == "torchscript":
        from .torchscript import TorchScriptProcessor

        return TorchScriptProcessor(model_path, threads)
    if name == "sklearn":
        from .sklearn import SklearnProcessor

        return SklearnProcessor(model_path, threads, trust_pickle)
    if name == "xgboost":
        from .xgboost import XGBoostProcessor

        return XGBoostProcessor(model_path, threads)
    if name == "tensorflow":
        from .tensorflow import TensorFlowProcessor

        return TensorFlowProcessor(model_path, threads)
    raise ValidationError(
        "the custom processor is a command, not a model format",
        "give the service a command that listens on $LISTENING_PORT",
    )


__all__ = ["BUILTIN", "PROCESSORS", "Processor", "check_processor", "detect_processor", "find_model_file"]
