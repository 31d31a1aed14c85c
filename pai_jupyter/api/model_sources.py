"""Where a model to deploy comes from, and which processor serves it.

``resolve_model`` turns what a user passes to ``--model`` into a storage URI:
a training job id (its ``model`` output), an ``oss://`` URI, or a local file or
folder (checked, then uploaded to ``oss://<bucket>/pai-jupyter/models/<name>/<stamp>/``).
``infer_processor`` names the processor from the model's file names when the
user gives none.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from ..backends.base import Backend
from ..config import current_config
from ..errors import NotFoundError, ValidationError
from ..specs.service import PROCESSORS
from ..storage.objects import ProgressCallback
from ..storage.uri import OssUri

# Model file suffixes that name a processor (the model server's own table, plus .ts).
SUFFIXES = {
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".pth": "torchscript",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".joblib": "sklearn",
    ".skops": "sklearn",
    ".json": "xgboost",
    ".ubj": "xgboost",
    ".bst": "xgboost",
}
# Files that sit beside a model and say nothing about its format.
SIDE_FILES = frozenset({"provenance.json", "signature.json", "example.json", "metrics.json", "config.json"})
TF_MARKER = "saved_model.pb"


def infer_processor(names: list[str], where: str) -> str:
    """The processor for a model made of these file names (paths relative to the model root)."""
    if any(Path(n).name == TF_MARKER for n in names):
        return "tensorflow"
    found = set()
    for name in names:
        base = Path(name).name.lower()
        if base in SIDE_FILES:
            continue
        kind = SUFFIXES.get(Path(base).suffix)
        if kind:
            found.add(kind)
    if len(found) == 1:
        return found.pop()
    if not found:
        raise ValidationError(
            f"cannot tell the processor of {where}: no .onnx, .pt/.ts, .skops/.pkl/.joblib, .json/.ubj or saved_model.pb",
            f"pass --processor ({', '.join(PROCESSORS)})",
        )
    raise ValidationError(
        f"cannot tell the processor of {where}: it holds {' and '.join(sorted(found))} models",
        "point --model at one model file, or pass --processor",
    )


PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def check_pickle(processor: str, names: list[str], trust_pickle: bool) -> None:
    """Refuse a pickled scikit-learn model before it is uploaded or loaded, unless trusted.

    Both backends serve sklearn with pai-jupyter's model server, which refuses it too; this says
    so before anything is copied (the reason and the two ways out).
    """
    if processor != "sklearn" or trust_pickle:
        return
    models = [n for n in names if Path(n).name.lower() not in SIDE_FILES]
    if any(n.lower().endswith(".skops") for n in models):
        return
    pickled = [n for n in models if n.lower().endswith(PICKLE_SUFFIXES)] or models[:1]
    if pickled:
        from ..model_server.processors.sklearn import pickle_refusal

        raise pickle_refusal(Path(pickled[0]))


def _is_oss(text: str) -> bool:
    return text.startswith("oss://")


def resolve_model(
    name: str,
    model: str | Path,
    be: Backend,
    processor: str | None,
    progress: ProgressCallback | None,
    trust_pickle: bool = False,
) -> tuple[str, str, str | None]:
    """(model URI, processor, job id); a local model is checked (a pickle refused unless
    ``trust_pickle``) before it is uploaded."""
    text = str(model)
    if not text.strip():
        raise ValidationError("--model is empty", "give a job id, an oss:// URI or a local file or folder")
    if _is_oss(text):
        uri = OssUri.parse(text, "--model")
        names = _storage_names(be, uri, text)
        processor = processor or infer_processor(names, text)
        check_pickle(processor, names, trust_pickle)
        return str(uri), processor, None
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            names = [str(p.relative_to(path)) for p in sorted(path.rglob("*")) if p.is_file()]
            if not names:
                raise ValidationError(f"model folder {path} is empty", "point --model at the model file or folder")
        else:
            names = [path.name]
        processor = processor or infer_processor(names, text)
        check_pickle(processor, names, trust_pickle)
        return _upload_model(name, path, be, progress), processor, None
    # Not a path: maybe a job id.
    looks_like_path = "/" in text or text.startswith(".") or Path(text).suffix.lower() in SUFFIXES
    if not looks_like_path:
        from .jobs import get_job

        try:
            job = get_job(text, backend=be)
        except NotFoundError:
            job = None
        if job is not None:
            model_uri = job.outputs.get("model")
            if not model_uri:
                raise ValidationError(f"job {text} has no model output", "deploy a path or URI instead")
            uri = OssUri.parse(model_uri, f"job {text}'s model")
            where = f"job {text}'s model ({model_uri})"
            names = _storage_names(be, uri, where)
            processor = processor or infer_processor(names, where)
            check_pickle(processor, names, trust_pickle)
            return str(uri), processor, job.id
    raise NotFoundError(
        f"model {text!r} is not a local file or folder, an oss:// URI or a job id",
        "check the path (relative to the notebook's folder) or the job id (`jupyter pai jobs list`)",
    )


def _storage_names(be: Backend, uri: OssUri, what: str) -> list[str]:
    items = [i for i in be.storage.list(uri, recursive=True) if not i.is_dir]
    if not items:
        raise NotFoundError(f"nothing found at {what}", "check the URI with `jupyter pai storage ls`")
    if len(items) == 1 and items[0].uri.rstrip("/") == str(uri).rstrip("/"):
        return [Path(uri.key).name]
    prefix = uri.as_dir().key
    return [i.uri.split("://", 1)[1].split("/", 1)[1][len(prefix) :] for i in items]


def _upload_model(name: str, path: Path, be: Backend, progress: ProgressCallback | None) -> str:
    """Copy a local model to ``oss://<bucket>/pai-jupyter/models/<name>/<stamp>/``."""
    config = current_config()
    bucket = config.bucket
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
    base = OssUri(bucket, f"pai-jupyter/models/{name}/{stamp}/")
    if path.is_dir():
        return str(be.storage.upload(path, base, progress).as_dir())
    return str(be.storage.upload(path, base.join(path.name), progress))
