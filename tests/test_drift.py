"""Drift between the serving runtime and the model's environment: versions read from real model files."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import sklearn
import xgboost

from pai_jupyter.api.drift import check, saved_versions
from pai_jupyter.storage.local import LocalStorage
from pai_jupyter.storage.uri import OssUri
from tests.serving import models


def _store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def _bump_minor(version: str) -> str:
    major, minor, *rest = version.split(".")
    return ".".join([major, str(int(minor) + 1), *rest])


def test_sklearn_version_is_read_from_pickles_and_joblib_without_unpickling(tmp_path: Path) -> None:
    storage = _store(tmp_path)
    models.sklearn_digits(tmp_path / "m" / "model.pkl")
    storage.upload(tmp_path / "m", OssUri("bkt", "pickled/"))
    model = pickle.loads((tmp_path / "m" / "model.pkl").read_bytes())
    (tmp_path / "j").mkdir()
    joblib.dump(model, tmp_path / "j" / "model.joblib")
    storage.upload(tmp_path / "j", OssUri("bkt", "joblib/"))
    joblib.dump(model, tmp_path / "z.joblib", compress=3)
    storage.upload(tmp_path / "z.joblib", OssUri("bkt", "compressed/z.joblib"))

    assert saved_versions(storage, "oss://bkt/pickled/", "sklearn") == {"scikit-learn": {sklearn.__version__}}
    assert saved_versions(storage, "oss://bkt/joblib/", "sklearn") == {"scikit-learn": {sklearn.__version__}}
    assert saved_versions(storage, "oss://bkt/compressed/z.joblib", "sklearn") == {}

    runtime = {"python": "3.11.7", "packages": {"scikit-learn": _bump_minor(sklearn.__version__)}}
    report = check("sklearn", {"scikit-learn": {sklearn.__version__}}, None, runtime, "local")
    [finding] = report.warnings
    assert finding.message == (
        f"scikit-learn {sklearn.__version__} (saved in the model) but the serving runtime has "
        f"{_bump_minor(sklearn.__version__)}"
    )
    compressed = check("sklearn", {}, None, runtime, "local")
    assert compressed.findings == [] and "no readable scikit-learn version" in compressed.notes[0]


def test_xgboost_json_models_carry_their_version(tmp_path: Path) -> None:
    storage = _store(tmp_path)
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    booster = xgboost.train({"max_depth": 1}, xgboost.DMatrix(x, label=x[:, 0]), num_boost_round=2)
    (tmp_path / "x").mkdir()
    booster.save_model(str(tmp_path / "x" / "model.json"))
    storage.upload(tmp_path / "x", OssUri("bkt", "xgb/"))
    saved = saved_versions(storage, "oss://bkt/xgb/", "xgboost")
    assert saved == {"xgboost": {xgboost.__version__}}
    report = check("xgboost", saved, None, {"python": "3.11.7", "packages": {}}, "local")
    assert [f.message for f in report.warnings] == [
        f"xgboost {xgboost.__version__} (saved in the model) but the serving runtime has not installed"
    ]


def test_training_environment_python_and_patch_levels() -> None:
    training = {
        "environment": {"python": {"version": "3.10.12"}, "packages": {"scikit-learn": "1.4.2", "torch": "2.3.1"}}
    }
    runtime = {"python": "3.11.7", "packages": {"scikit-learn": "1.4.0", "torch": "2.3.1"}}
    report = check("sklearn", {}, training, runtime, "local")
    levels = {f.library: (f.level, f.source) for f in report.findings}
    assert levels == {
        "scikit-learn": ("note", "training environment"),
        "Python": ("warning", "training environment"),
    }
    assert [f.message for f in report.warnings] == [
        "Python 3.10.12 (training environment) but the serving runtime has 3.11.7"
    ]
    assert check("onnx", {}, training, None, "aliyun: no versions").notes == ["not compared: aliyun: no versions"]
