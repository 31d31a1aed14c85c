"""Tiny real models for serving tests, built in a few hundred milliseconds."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import numpy as np


def onnx_linear(path: Path, n_in: int = 64, n_out: int = 10, seed: int = 0, name: str = "x") -> Path:
    """y = x @ W + b as an ONNX graph (input ``name`` float32 [N, n_in], output ``y`` [N, n_out])."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(size=(n_in, n_out)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(n_out,)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", [name, "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def onnx_weights(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    return inits["W"], inits["b"]


def sklearn_digits(path: Path) -> Path:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x / 16.0, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(model, fh)
    return path


def sklearn_digits_skops(path: Path) -> Path:
    """The same classifier saved with skops (loads without running code from the file)."""
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x / 16.0, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    return path


class _Payload:
    """Unpickling this runs ``code`` (pickle calls exec through __reduce__): what a hostile model does."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple:
        return (exec, (self.code,))


def hostile_pickle(path: Path, marker: Path) -> Path:
    """A .pkl whose loading writes ``marker``: proof that code from the file ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(_Payload(f"open({str(marker)!r}, 'w').write('ran')"), fh)
    return path


def torchscript_mlp(path: Path, example: bool = True) -> Path:
    import torch

    torch.manual_seed(0)
    module = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(module, str(path))
    if example:
        (path.parent / "example.json").write_text(json.dumps({"inputs": [[0.0] * 8]}))
    return path


def xgboost_model(path: Path) -> Path:
    import xgboost
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 10, "max_depth": 2, "nthread": 1},
        xgboost.DMatrix(x, label=y),
        num_boost_round=3,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    return path


def custom_app(folder: Path, *, fail_rate: float = 0.0, delay_s: float = 0.0, tag: str = "custom") -> Path:
    """A custom processor: a stdlib HTTP server on $LISTENING_PORT that echoes, fails or sleeps on demand."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(
        textwrap.dedent(
            f"""
            import json, os, random, time
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                disable_nagle_algorithm = True

                def log_message(self, *args):
                    pass

                def _send(self, status, body, ctype="application/json"):
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def do_GET(self):
                    self._send(200, json.dumps({{"ok": True, "tag": {tag!r}, "path": self.path}}).encode())

                def do_POST(self):
                    data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    if {delay_s!r}:
                        time.sleep({delay_s!r})
                    if random.random() < {fail_rate!r}:
                        self._send(500, b'{{"error": "boom"}}')
                        return
                    reply = {{"tag": {tag!r}, "path": self.path, "pid": os.getpid(), "echo": data.decode("latin-1")}}
                    self._send(200, json.dumps(reply).encode())

            ThreadingHTTPServer(("127.0.0.1", int(os.environ["LISTENING_PORT"])), Handler).serve_forever()
            """
        )
    )
    return folder
