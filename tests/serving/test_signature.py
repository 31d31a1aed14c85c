"""Signatures read from real models, and what counts as a breaking change."""

from __future__ import annotations

from pathlib import Path

import pytest

from pai_jupyter.decisions.signature import compare
from pai_jupyter.errors import ValidationError
from pai_jupyter.model_server.processors import detect_processor, load_processor
from pai_jupyter.model_server.signature import read_signature
from tests.serving import models


def sig(inputs: list, outputs: list) -> dict:
    return {"inputs": inputs, "outputs": outputs}


def spec(name: str, dtype: str | None = "float32", shape: list | None = None) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


def test_compare_spells_out_every_breaking_change() -> None:
    old = sig([spec("x", shape=[None, 64])], [spec("y", shape=[None, 10])])
    assert compare(old, old) == []
    assert compare(old, sig([spec("x", shape=[8, 64])], [spec("y", shape=[None, 10])])) == []  # narrower batch dim
    assert compare(old, sig([spec("x", shape=[None, 64])], [spec("y", shape=[None, 10]), spec("p")])) == []
    changed = sig([spec("x", "float64", [None, 32]), spec("mask")], [spec("y", shape=[None, 10, 1])])
    assert compare(old, changed) == [
        "input 'x' dtype float32 -> float64",
        "input 'x' shape [?, 64] -> [?, 32]",
        "input 'mask' added",
        "output 'y' shape [?, 10] -> [?, 10, 1]",
    ]
    assert compare(old, sig([spec("x", shape=[None, 64])], [])) == ["output 'y' removed"]
    # Unknown dtypes/shapes (TorchScript without an example) match anything; an empty old signature holds nothing.
    assert compare(old, sig([spec("x", None, None)], [spec("y", None, None)])) == []
    assert compare(sig([], []), changed) == []


def test_signatures_read_from_models(tmp_path: Path) -> None:
    onnx = models.onnx_linear(tmp_path / "a" / "model.onnx", n_in=5, n_out=3)
    assert read_signature(onnx, "onnx") == sig([spec("x", shape=[None, 5])], [spec("y", shape=[None, 3])])
    ts = models.torchscript_mlp(tmp_path / "ts" / "model.pt", example=False)
    bare = read_signature(ts, "torchscript")
    assert bare["inputs"][0]["shape"] is None  # no example, nothing declared: names only
    (ts.parent / "signature.json").write_text(
        '{"inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 8]}]}'
    )
    assert read_signature(ts, "torchscript")["inputs"] == [spec("input", shape=[None, 8])]
    assert read_signature(tmp_path, "custom", {"inputs": [{"name": "q", "dtype": "str"}]})["inputs"] == [
        spec("q", "str", None)
    ]
    assert detect_processor(onnx.parent) == "onnx" and detect_processor(ts) == "torchscript"


def test_bad_input_and_bad_model_are_one_line_errors(tmp_path: Path) -> None:
    from pai_jupyter.model_server.processors.base import InputError

    proc = load_processor("onnx", models.onnx_linear(tmp_path / "m.onnx", n_in=4))
    with pytest.raises(InputError, match=r"shape \[1, 3\]"):
        proc.predict([[1, 2, 3]], {})
    with pytest.raises(InputError, match="unknown input"):
        proc.predict({"nope": [[1, 2, 3, 4]]}, {})
    (tmp_path / "two").mkdir()
    models.onnx_linear(tmp_path / "two" / "a.onnx")
    models.onnx_linear(tmp_path / "two" / "b.onnx")
    with pytest.raises(ValidationError, match="expected one ONNX file"):
        load_processor("onnx", tmp_path / "two")
    with pytest.raises(ValidationError, match="TensorFlow"):
        load_processor("tensorflow", tmp_path)


def test_warm_up_runs_on_zeros_shaped_like_the_signature(tmp_path: Path) -> None:
    from pai_jupyter.model_server.server import warm_up

    assert warm_up(load_processor("onnx", models.onnx_linear(tmp_path / "m.onnx", n_in=4)))
    ts = models.torchscript_mlp(tmp_path / "ts" / "model.pt", example=False)
    assert not warm_up(load_processor("torchscript", ts))  # shapes unknown: nothing to build an input from
