"""Environment drift at deploy: the serving runtime against what trained and saved the model.

Three sources are compared with the runtime that will load the model:

- the library version written *into* the model file: scikit-learn pickles carry
  ``_sklearn_version`` in every estimator's state (``BaseEstimator.__getstate__``),
  XGBoost JSON models carry ``"version": [major, minor, patch]``. These are
  read from the bytes, without unpickling anything;
- the training environment recorded in the job's provenance (framework
  versions, Python);
- the runtime: on the local backend the interpreter the control plane runs
  model servers with; on PAI-EAS the built-in processors do not publish their
  library versions through the API, so nothing is compared there and the
  report says so.

A difference in major or minor version is a finding (a warning, or a refusal
with ``--strict-env``); a patch-level difference is only noted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..errors import NotFoundError, PaiError
from ..storage.uri import OssUri

# Distribution names as provenance records them (canonical, lower case), per processor.
PROCESSOR_LIBRARIES = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost",),
    "onnx": ("onnxruntime",),
    "torchscript": ("torch",),
    "tensorflow": ("tensorflow",),
}
_SKLEARN_VERSION = re.compile(
    rb"_sklearn_version.{0,8}?(\d+\.\d+(?:\.\d+)?(?:(?:rc|a|b|\.dev|\.post)\d+)?)", re.DOTALL
)
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
MAX_MODEL_READ = 512 * 2**20


@dataclass
class Finding:
    library: str  # "scikit-learn", "python", ...
    source: str  # "saved in the model" | "training environment"
    model_version: str
    runtime_version: str | None
    level: str  # "warning" (major/minor differs, or missing at runtime) | "note" (patch only)

    @property
    def message(self) -> str:
        runtime = self.runtime_version or "not installed"
        return f"{self.library} {self.model_version} ({self.source}) but the serving runtime has {runtime}" + (
            "" if self.level == "warning" else " (patch level only)"
        )


@dataclass
class DriftReport:
    runtime: str  # what the runtime is, in words
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "findings": [{**asdict(f), "message": f.message} for f in self.findings],
            "notes": self.notes,
        }


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(re.split(r"[.+]", version)[:2])


def _level(model: str, runtime: str | None) -> str | None:
    if runtime is None:
        return "warning"
    if model == runtime.split("+")[0] or model == runtime:
        return None
    return "warning" if _major_minor(model) != _major_minor(runtime) else "note"


# -- what the model says -----------------------------------------------------------------
def saved_versions(storage: Any, model_uri: str, processor: str) -> dict[str, set[str]]:
    """``{library: {versions}}`` written into the model files (sklearn pickles, XGBoost JSON)."""
    base = OssUri.parse(model_uri, "model URI")
    found: dict[str, set[str]] = {}
    for item in storage.list(base, recursive=True):
        name = item.uri.rsplit("/", 1)[-1].lower()
        if item.is_dir or item.size > MAX_MODEL_READ:
            continue
        if processor == "sklearn" and name.endswith(_PICKLE_SUFFIXES):
            data = storage.read_bytes(OssUri.parse(item.uri))
            for match in _SKLEARN_VERSION.finditer(data):
                found.setdefault("scikit-learn", set()).add(match.group(1).decode())
        elif processor == "xgboost" and name.endswith(".json") and name != "provenance.json":
            try:
                doc = json.loads(storage.read_bytes(OssUri.parse(item.uri)))
            except ValueError:
                continue
            version = doc.get("version") if isinstance(doc, dict) else None
            if isinstance(version, list) and version and all(isinstance(v, int) for v in version):
                found.setdefault("xgboost", set()).add(".".join(map(str, version)))
    return found


# -- what serves it ------------------------------------------------------------------------
_runtime_cache: dict[str, dict[str, Any]] = {}


def _interpreter_environment(python: str) -> dict[str, Any]:
    """Python version and distributions of another interpreter (one subprocess, cached)."""
    if python in _runtime_cache:
        return _runtime_cache[python]
    code = (
        "import json, platform\nfrom pai_jupyter.provenance.environment import installed_distributions\n"
        "print(json.dumps({'python': platform.python_version(), 'packages': installed_distributions()}))"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise PaiError(f"could not read the serving runtime's packages from {python}")
    _runtime_cache[python] = json.loads(proc.stdout)
    return _runtime_cache[python]


def serving_runtime(backend: Backend) -> tuple[str, dict[str, Any] | None]:
    """(description, ``{"python", "packages"}`` or None when the backend does not say)."""
    if backend.id != "local":
        return (f"{backend.id}: the EAS built-in processors do not publish library versions", None)
    import platform

    from ..provenance.environment import installed_distributions

    python = sys.executable
    try:
        import psutil

        python = psutil.Process(int(backend.server_info()["pid"])).exe()  # type: ignore[attr-defined]
    except Exception:
        pass
    if Path(python).resolve() == Path(sys.executable).resolve():
        env = {"python": platform.python_version(), "packages": installed_distributions()}
    else:
        env = _interpreter_environment(python)
    return (f"local model servers ({python})", env)


# -- the check -----------------------------------------------------------------------------
def check(
    processor: str,
    saved: dict[str, set[str]],
    training: dict[str, Any] | None,
    runtime: dict[str, Any] | None,
    runtime_label: str,
) -> DriftReport:
    report = DriftReport(runtime=runtime_label)
    if runtime is None:
        report.notes.append(f"not compared: {runtime_label}")
        return report
    packages = runtime.get("packages") or {}
    if processor in ("sklearn", "xgboost") and not saved:
        library = PROCESSOR_LIBRARIES[processor][0]
        report.notes.append(f"the model files carry no readable {library} version (compressed or binary format)")
    for library, versions in sorted(saved.items()):
        for version in sorted(versions):
            level = _level(version, packages.get(library))
            if level:
                report.findings.append(
                    Finding(library, "saved in the model", version, packages.get(library), level)
                )
    if training:
        env = training.get("environment") or {}
        trained = (env.get("packages") or {}) if isinstance(env.get("packages"), dict) else {}
        for library in PROCESSOR_LIBRARIES.get(processor, ()):
            version = trained.get(library) or ((env.get("frameworks") or {}).get(library) or {}).get("version")
            if version and library not in saved:
                level = _level(version, packages.get(library))
                if level:
                    report.findings.append(
                        Finding(library, "training environment", version, packages.get(library), level)
                    )
        python = (env.get("python") or {}).get("version")
        if python and runtime.get("python"):
            level = _level(python, runtime["python"])
            if level:
                report.findings.append(Finding("Python", "training environment", python, runtime["python"], level))
    elif not saved:
        report.notes.append("no training environment recorded for this model and no version inside it")
    return report


def check_deploy(backend: Backend, model_uri: str, processor: str, job_id: str | None) -> DriftReport:
    """Compare a model about to be deployed with the runtime that will serve it."""
    training = None
    try:
        if job_id:
            training = backend.training.provenance(job_id)
        else:
            folder = model_uri if model_uri.endswith("/") else model_uri.rsplit("/", 1)[0] + "/"
            beside = OssUri.parse(folder).join("provenance.json")
            if backend.storage.exists(beside):
                training = json.loads(backend.storage.read_bytes(beside))
    except (NotFoundError, ValueError, PaiError):
        training = None
    label, runtime = serving_runtime(backend)
    saved = saved_versions(backend.storage, model_uri, processor)
    return check(processor, saved, training, runtime, label)
