"""Every built-in processor batched: one model call per compatible group, each request its own answer.

Real models (``models.py``) loaded by their real processors; the batched
answers must equal the answers each request gets alone.
"""

from __future__ import annotations

from pathlib import Path

import models
import numpy as np
import pytest

from pai_jupyter.model_server.batching import Prepared, run_batch
from pai_jupyter.model_server.processors import load_processor
from pai_jupyter.model_server.processors.base import InputError


class Counting:
    """Wraps a processor and counts model calls with their row counts."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "?")
        self.calls: list[int] = []

    def prepare(self, inputs: object, params: dict) -> Prepared:
        return self.inner.prepare(inputs, params)  # type: ignore[attr-defined]

    def run(self, arrays: dict[str, np.ndarray], params: dict) -> object:
        self.calls.append(next(iter(arrays.values())).shape[0])
        return self.inner.run(arrays, params)  # type: ignore[attr-defined]

    def to_json(self, outputs: object) -> object:
        return self.inner.to_json(outputs)  # type: ignore[attr-defined]


def rows(width: int, i: int, n: int) -> list[list[float]]:
    """``n`` rows that identify request ``i``."""
    return (np.arange(n * width, dtype=np.float64).reshape(n, width) / (n * width) + i).tolist()


@pytest.mark.parametrize("kind", ["onnx", "torchscript", "sklearn", "xgboost"])
def test_batched_answers_equal_the_answers_alone(kind: str, model_dir: Path) -> None:
    path, width = {
        "onnx": (lambda: models.onnx_linear(model_dir / "b-onnx" / "model.onnx"), 64),
        "torchscript": (lambda: models.torchscript_mlp(model_dir / "b-ts" / "model.pt").parent, 8),
        "sklearn": (lambda: models.sklearn_digits(model_dir / "b-sk" / "model.pkl"), 64),
        "xgboost": (lambda: models.xgboost_model(model_dir / "b-xgb" / "model.json"), 64),
    }[kind]
    processor = Counting(load_processor(kind, path(), trust_pickle=True))
    requests = [rows(width, i, 1 + i % 3) for i in range(7)]
    alone = [processor.inner.predict(r, {}) for r in requests]  # type: ignore[attr-defined]
    processor.calls.clear()

    outcomes = run_batch(processor, [processor.prepare(r, {}) for r in requests])  # type: ignore[arg-type]
    assert processor.calls == [sum(1 + i % 3 for i in range(7))]  # one call on all rows
    for outcome, expected in zip(outcomes, alone, strict=True):
        assert outcome.error is None
        np.testing.assert_allclose(np.asarray(outcome.value), np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_incompatible_requests_run_in_their_own_calls(model_dir: Path) -> None:
    processor = Counting(
        load_processor("sklearn", models.sklearn_digits(model_dir / "b-sk2" / "model.pkl"), trust_pickle=True)
    )
    items = [
        processor.prepare(rows(64, 1, 2), {}),
        processor.prepare(rows(64, 2, 1), {"method": "predict_proba"}),  # other options: other call
        processor.prepare(rows(64, 3, 1), {}),
        processor.prepare(rows(64, 4, 3), {"method": "predict_proba"}),
    ]
    outcomes = run_batch(processor, items)  # type: ignore[arg-type]
    assert sorted(processor.calls) == [3, 4]
    assert [np.asarray(o.value).shape for o in outcomes] == [(2,), (1, 10), (1,), (3, 10)]
    with pytest.raises(InputError, match="the model wants"):
        processor.prepare([[1.0, 2.0]], {})  # validated alone, before any batch


def test_a_request_that_breaks_the_batch_fails_alone(model_dir: Path) -> None:
    """sklearn refuses NaN inside predict: the batch fails, each request runs alone, only that one fails."""
    processor = Counting(
        load_processor("sklearn", models.sklearn_digits(model_dir / "b-sk3" / "model.pkl"), trust_pickle=True)
    )
    bad = rows(64, 5, 1)
    bad[0][3] = float("nan")
    requests = [rows(64, 1, 1), bad, rows(64, 2, 2)]
    outcomes = run_batch(processor, [processor.prepare(r, {}) for r in requests])  # type: ignore[arg-type]
    assert processor.calls == [4, 1, 1, 2]  # the batch, then each alone
    assert outcomes[0].error is None and outcomes[2].error is None
    assert isinstance(outcomes[1].error, ValueError) and "NaN" in str(outcomes[1].error)
    assert np.asarray(outcomes[2].value).shape == (2,)
