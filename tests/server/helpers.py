"""Real jobs for the handler tests: a script that reports loss slowly, submitted to the local backend."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from pai_jupyter.backends.base import JobRecord
from pai_jupyter.backends.local import LocalBackend
from pai_jupyter.config import PaiConfig
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.storage.uri import OssUri

SLOW_LOSS = """
import time
from pai_jupyter import report
print("training starts", flush=True)
for step in range(1, 400):
    report(step=step, loss=1.0 / step)
    print(f"step {step}", flush=True)
    time.sleep(0.3)
"""

PROVENANCE: dict[str, Any] = {
    "git": {"is_repo": True, "commit": "0123456789abcdef0123", "branch": "main", "dirty": True},
    "environment": {
        "python": {"version": "3.11.2", "implementation": "CPython"},
        "frameworks": {"torch": {"version": "2.13.0+cu121", "build": "cu121", "cuda": "12.1"}},
        "cuda": None,
    },
}


def submit(source: str = SLOW_LOSS, name: str = "ext-job", provenance: dict[str, Any] | None = None) -> JobRecord:
    backend = LocalBackend(PaiConfig())
    spec = JobSpec(name=name)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / spec.entry).write_text(source)
        uri = backend.storage.upload(Path(tmp), OssUri("tests", f"code/{secrets.token_hex(4)}/"))
    return backend.training.submit(spec, str(uri), PROVENANCE if provenance is None else provenance)


def onnx_linear(path: Path, seed: int, n_in: int = 8) -> Path:
    """A real ONNX model, y = x @ W + b (input ``x`` float32 [N, n_in])."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(n_in, 2)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(2,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
