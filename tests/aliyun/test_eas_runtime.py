"""The runtime each model format gets on EAS: requirements pinned to the saving version, and the
deploy-time refusal naming both versions when the image's Python cannot install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pai_jupyter.backends.aliyun.eas_runtime import (
    RUNTIME_FILES,
    SERVER_REQUIREMENTS,
    image_python,
    requirements,
    runtime_digest,
    runtime_files,
)
from pai_jupyter.errors import ValidationError

PY39 = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/python-inference:py39-ubuntu2004"
PY311 = "registry.example.com/team/serving:py311-ubuntu2204"


def test_image_python_comes_from_the_tag() -> None:
    assert image_python(PY39) == (3, 9)
    assert image_python(PY311) == (3, 11)
    assert image_python("registry.example.com/team/serving:latest") is None


@pytest.mark.parametrize(
    ("processor", "packages", "image", "gpu", "expected"),
    [
        ("onnx", {"onnxruntime": "1.32.0"}, PY39, False, [*SERVER_REQUIREMENTS, "onnxruntime==1.19.2"]),
        ("onnx", {}, PY311, True, [*SERVER_REQUIREMENTS, "onnxruntime-gpu==1.32.0"]),
        ("torchscript", {"torch": "2.8.0+cpu"}, PY39, False, [*SERVER_REQUIREMENTS, "torch==2.8.0"]),
        ("torchscript", {"torch": "2.13.0+cpu"}, PY311, True, [*SERVER_REQUIREMENTS, "torch==2.13.0"]),
        ("tensorflow", {"tensorflow": "2.15.1"}, PY39, False, [*SERVER_REQUIREMENTS, "tensorflow-cpu==2.15.1"]),
        ("sklearn", {"scikit_learn": "1.5.2"}, PY39, False, [*SERVER_REQUIREMENTS, "scikit-learn==1.5.2"]),
        ("xgboost", {"xgboost": "3.2.0"}, PY311, False, [*SERVER_REQUIREMENTS, "xgboost==3.2.0"]),
        (
            "xgboost",
            {"xgboost": "3.2.0"},
            "registry.example.com/x:latest",
            False,
            [*SERVER_REQUIREMENTS, "xgboost==3.2.0"],
        ),
    ],
)
def test_requirements_pin_what_saved_the_model(
    processor: str, packages: dict[str, str], image: str, gpu: bool, expected: list[str]
) -> None:
    assert requirements(processor, image, packages, gpu) == expected


@pytest.mark.parametrize(
    ("processor", "packages", "saved", "ceiling"),
    [
        ("sklearn", {"scikit-learn": "1.9.1"}, "scikit-learn 1.9.1", "1.6.1"),
        ("torchscript", {"torch": "2.13.0+cpu"}, "torch 2.13.0", "2.8.0"),
        ("xgboost", {"xgboost": "3.2.0"}, "xgboost 3.2.0", "2.1.4"),
    ],
)
def test_a_version_the_image_cannot_install_is_refused(
    processor: str, packages: dict[str, str], saved: str, ceiling: str
) -> None:
    with pytest.raises(ValidationError) as err:
        requirements(processor, PY39, packages, False)
    assert f"saved with {saved}" in err.value.message and f"stops at {ceiling}" in err.value.message
    assert "Python 3.9" in err.value.message and "py310 or py311" in (err.value.hint or "")


def test_no_recorded_version_is_refused_for_formats_that_need_one() -> None:
    with pytest.raises(ValidationError, match="cannot tell which scikit-learn version saved"):
        requirements("sklearn", PY39, {}, False)


def test_the_mounted_runtime_imports_on_its_own(tmp_path: Path) -> None:
    """The uploaded files are enough: the container entry imports from the copy, not an install."""
    files = runtime_files()
    assert set(files) == {f"pai_jupyter/{rel}" for rel in RUNTIME_FILES}
    assert runtime_digest(files) == runtime_digest(dict(reversed(list(files.items()))))
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    code = (
        "import sys, pai_jupyter.model_server.eas_container as m, pai_jupyter.model_server.processors.onnx;"
        "print(m.__file__); print(sorted(k for k in sys.modules if k.startswith('pai_jupyter')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,  # not the checkout: `python -c` puts the working folder first on sys.path
    )
    assert out.returncode == 0, out.stderr
    first, loaded = out.stdout.splitlines()
    assert first == str(tmp_path / "pai_jupyter/model_server/eas_container.py")
    # Nothing outside the uploaded files was needed.
    assert {m.replace(".", "/") for m in eval(loaded)} <= {
        r[: -len("/__init__.py")] if r.endswith("/__init__.py") else r[: -len(".py")] for r in files
    }
