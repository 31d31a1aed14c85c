"""One configuration for the kernel, the ``jupyter pai`` CLI and the server extension.

Every setting has one source of truth, resolved in this order (first wins):

1. a command-line flag or magic option (``--backend``), or ``%config PaiConfig.x = ...``;
2. an environment variable (``PAI_JUPYTER_BACKEND``, ``PAI_JUPYTER_HOME``,
   ``PAI_JUPYTER_REGION``, ..., ``PAI_SERVING_<FIELD>``; see ``SETTINGS``);
3. a config file: ``jupyter_pai_config.py`` / ``.json`` in the Jupyter config path
   (``jupyter --paths``), with ``c.PaiConfig.<name>`` and ``c.PaiServing.<field>``; the
   host application's own files (``jupyter_server_config.py``, ``ipython_config.py``)
   may set ``c.PaiConfig`` too and count as config files;
4. the built-in default.

``jupyter pai config [--json]`` prints every effective setting and where it came from.
Inside PAI-DSW the region and workspace default to what DSW sets (``REGION``,
``PAI_WORKSPACE_ID``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from traitlets import Bool, Float, Int, Unicode, default
from traitlets.config import Config, Configurable
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from .errors import ValidationError
from .telemetry.advice import WINDOW as ADVICE_WINDOW

CONFIG_FILE = "jupyter_pai_config"
# PaiConfig trait -> the environment variables that set it, in order.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "backend": ("PAI_JUPYTER_BACKEND",),
    "home": ("PAI_JUPYTER_HOME",),
    "max_concurrent_jobs": ("PAI_JUPYTER_MAX_CONCURRENT_JOBS",),
    "default_bucket": ("PAI_JUPYTER_OSS_BUCKET",),
    "sample_every": ("PAI_JUPYTER_SAMPLE_EVERY",),
    "advice_window": ("PAI_JUPYTER_ADVICE_WINDOW",),
    "region": ("PAI_JUPYTER_REGION", "REGION", "dsw_region"),
    "workspace_id": ("PAI_JUPYTER_WORKSPACE_ID", "PAI_WORKSPACE_ID", "PAI_AI_WORKSPACE_ID"),
    "oss_bucket": ("PAI_JUPYTER_OSS_BUCKET",),
    "dlc_endpoint": ("PAI_JUPYTER_DLC_ENDPOINT",),
    "eas_endpoint": ("PAI_JUPYTER_EAS_ENDPOINT",),
    "oss_endpoint": ("PAI_JUPYTER_OSS_ENDPOINT",),
    "protocol": ("PAI_JUPYTER_PROTOCOL",),
    "workspace_endpoint": ("PAI_JUPYTER_WORKSPACE_ENDPOINT",),
    "dsw_endpoint": ("PAI_JUPYTER_DSW_ENDPOINT",),
    "paiflow_endpoint": ("PAI_JUPYTER_PAIFLOW_ENDPOINT",),
    "sts_endpoint": ("PAI_JUPYTER_STS_ENDPOINT",),
    "backup_interval": ("PAI_JUPYTER_BACKUP_INTERVAL",),
    "backup_keep": ("PAI_JUPYTER_BACKUP_KEEP",),
    "metrics_retention_days": ("PAI_JUPYTER_METRICS_RETENTION_DAYS",),
    "trust_pickle": ("PAI_JUPYTER_TRUST_PICKLE",),
    "job_refs": ("PAI_JUPYTER_JOB_REFS",),
    "push_job_refs": ("PAI_JUPYTER_PUSH_JOB_REFS",),
}
# Settings that must lie in [0, 10**9) (a typo such as a negative interval is one clear line).
_RANGED = ("backup_interval", "backup_keep", "metrics_retention_days")


def serving_env_var(field: str) -> str:
    """The environment variable of a local serving setting (``c.PaiServing.<field>``)."""
    return f"PAI_SERVING_{field.upper()}"


def _env_source(names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value, name
    return None


_files_cache: dict[tuple[tuple[str, float], ...], tuple[Config, dict[tuple[str, str], str]]] = {}


def config_files() -> list[Path]:
    """The ``jupyter_pai_config.{py,json}`` files in the Jupyter config path, lowest priority first."""
    out = []
    for folder in reversed(jupyter_config_path()):
        for ext in (".py", ".json"):
            path = Path(folder) / f"{CONFIG_FILE}{ext}"
            if path.is_file():
                out.append(path)
    return out


def file_config() -> tuple[Config, dict[tuple[str, str], str]]:
    """The merged config files, and which file set each ``(section, name)``."""
    files = config_files()
    key = tuple((str(p), p.stat().st_mtime) for p in files)
    cached = _files_cache.get(key)
    if cached is not None:
        return cached
    merged, where = Config(), {}
    for path in files:
        loader_class = JSONFileConfigLoader if path.suffix == ".json" else PyFileConfigLoader
        try:
            loaded = loader_class(path.name, path=str(path.parent)).load_config()
        except Exception as exc:
            raise ValidationError(f"cannot read {path}: {exc}", "fix or remove the file") from None
        for section, values in loaded.items():
            if isinstance(values, (Config, dict)):
                for name in values:
                    where[(section, name)] = str(path)
        merged.merge(loaded)
    _files_cache.clear()
    _files_cache[key] = (merged, where)
    return merged, where


def resolve(section: str, name: str, env_vars: tuple[str, ...], fallback: Any) -> tuple[Any, str]:
    """``(value, source)`` of one setting from the environment, the config files or ``fallback``.

    ``source`` is ``env NAME``, ``file PATH`` or ``default``; environment values are strings."""
    found = _env_source(env_vars)
    if found is not None:
        return found[0], f"env {found[1]}"
    config, where = file_config()
    if section in config and name in config[section]:
        return config[section][name], f"file {where.get((section, name), CONFIG_FILE)}"
    return fallback, "default"


def serving_setting(field: str) -> tuple[Any, str] | None:
    """A local serving setting set by ``PAI_SERVING_<FIELD>`` or ``c.PaiServing.<field>``, else None."""
    value, source = resolve("PaiServing", field, (serving_env_var(field),), None)
    return None if value is None else (value, source)


def in_dsw() -> bool:
    """True inside a PAI-DSW notebook instance."""
    return bool(os.environ.get("DSW_INSTANCE_ID"))


class PaiConfig(Configurable):
    """Every setting of the package; see the module's docstring for where values come from."""

    backend = Unicode(help="Which backend to use: 'local' (no account needed) or 'aliyun'.").tag(config=True)
    home = Unicode(help="State folder of the local backend (jobs, storage, SQLite).").tag(config=True)

    # Local control plane
    server_ip = Unicode(help="Address the local control plane binds.").tag(config=True)
    server_port = Int(help="Port of the local control plane; 0 picks a free one.").tag(config=True)
    max_concurrent_jobs = Int(help="Jobs the local runner runs at once; further jobs wait in Queuing.").tag(
        config=True
    )
    default_bucket = Unicode(help="Bucket for outputs, checkpoints and code snapshots when a job names none.").tag(
        config=True
    )
    autostart = Bool(help="Start the local control plane on first use when none runs.").tag(config=True)
    sample_every = Float(help="Seconds between CPU/GPU samples of a local job's workers.").tag(config=True)
    advice_window = Float(help="Seconds of GPU samples behind the input-pipeline advice.").tag(config=True)
    backup_interval = Float(
        help="Seconds between backups of the control plane's state.sqlite (one is also taken at start); 0: only at start."
    ).tag(config=True)
    backup_keep = Int(help="Backups of state.sqlite kept in <home>/backups (the oldest are removed).").tag(
        config=True
    )

    metrics_retention_days = Float(
        help="Days the raw metric points of a finished local job are kept; later they are compacted into "
        "16-step buckets (first/min/max/last; the summary figures stay exact). 0: keep every point."
    ).tag(config=True)

    # Serving
    trust_pickle = Bool(
        help="Load pickled scikit-learn models (.pkl/.joblib) without --trust-pickle. Unpickling runs code "
        "from the file: only for models you trust. .skops files need no trust."
    ).tag(config=True)

    # Lineage
    job_refs = Bool(
        True,
        help="Commit each job's code on refs/pai/jobs/<id> in the Git repository it was submitted from; "
        "env PAI_JUPYTER_JOB_REFS=0 turns it off.",
    ).tag(config=True)
    push_job_refs = Bool(
        help="Push each job's refs/pai/jobs/<id> commit to the Git remote (as --push-ref does); "
        "env PAI_JUPYTER_PUSH_JOB_REFS=1."
    ).tag(config=True)

    # Alibaba Cloud
    region = Unicode(help="Alibaba Cloud region id, e.g. cn-hangzhou.").tag(config=True)
    workspace_id = Unicode(help="PAI workspace id.").tag(config=True)
    oss_bucket = Unicode(help="OSS bucket for code snapshots and job outputs.").tag(config=True)
    dlc_endpoint = Unicode(help="PAI-DLC endpoint override (VPC endpoints, tests).").tag(config=True)
    eas_endpoint = Unicode(help="PAI-EAS endpoint override (VPC endpoints, tests).").tag(config=True)
    oss_endpoint = Unicode(help="OSS endpoint override; internal endpoint by default inside DSW.").tag(config=True)
    protocol = Unicode(help="'https' (default) or 'http' for endpoints on local servers.").tag(config=True)
    # Used by the DLC training face: AIWorkspace (ListImages) and PAI-DSW (GetInstance).
    workspace_endpoint = Unicode(help="AIWorkspace endpoint override (image list).").tag(config=True)
    dsw_endpoint = Unicode(help="PAI-DSW endpoint override (workspace lookup inside DSW).").tag(config=True)
    # Used by pipelines on PAI: PAIFlow (pipelines and runs) and STS (the account id a pipeline's provider is).
    paiflow_endpoint = Unicode(help="PAIFlow endpoint override (PAI Pipelines).").tag(config=True)
    sts_endpoint = Unicode(help="STS endpoint override (the caller's account id).").tag(config=True)

    # Built-in defaults, for the settings whose default is not the trait's own.
    _FALLBACKS: ClassVar[dict[str, Any]] = {
        "backend": "local",
        "max_concurrent_jobs": 4,
        "default_bucket": "pai-jupyter",
        "sample_every": 2.0,
        "advice_window": ADVICE_WINDOW,
        "region": "cn-hangzhou",
        "server_ip": "127.0.0.1",
        "server_port": 0,
        "autostart": True,
        "protocol": "https",
        "backup_interval": 3600.0,
        "backup_keep": 5,
        "metrics_retention_days": 30.0,
        "trust_pickle": False,
        "job_refs": True,
        "push_job_refs": False,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The host application's config (c.PaiConfig in jupyter_server_config / ipython_config) is a
        # config file: an environment variable beats it.
        host = self.config.get("PaiConfig", {}) if self.config else {}
        for name in host:
            if name in ENV_VARS and _env_source(ENV_VARS[name]) is not None:
                setattr(self, name, self._resolved(name)[0])

    def _fallback(self, name: str) -> Any:
        if name == "home":
            return str(Path(jupyter_data_dir()) / "pai")
        return self._FALLBACKS.get(name, self.traits()[name].default_value)

    def _resolved(self, name: str) -> tuple[Any, str]:
        value, source = resolve("PaiConfig", name, ENV_VARS.get(name, ()), self._fallback(name))
        trait = self.traits()[name]
        if source.startswith("env ") and isinstance(trait, (Int, Float)):
            try:
                value = _number(value, isinstance(trait, Int))
            except ValueError:
                var = source[4:]
                raise ValidationError(f"{var}={value!r} is not a number", f"fix {var}, or unset it") from None
        if source.startswith("env ") and isinstance(trait, Bool):
            value = str(value).strip().lower() in ("1", "true", "yes", "on")
        if name in _RANGED and not 0 <= float(value) < 10**9:
            where = source[4:] if source.startswith("env ") else f"c.PaiConfig.{name}"
            raise ValidationError(f"{where}={value!r} is out of range", "give a number from 0 to 999999999")
        return value, source

    def sources(self) -> dict[str, tuple[Any, str]]:
        """Every setting's effective value and where it came from (``flag``, ``env NAME``,
        ``file PATH``, ``app config`` (the host application's c.PaiConfig, or %config) or ``default``)."""
        host = self.config.get("PaiConfig", {}) if self.config else {}
        out = {}
        for name in sorted(self.trait_names(config=True)):
            value = getattr(self, name)
            resolved, source = self._resolved(name)
            if name in host and not source.startswith("env "):
                source = "app config"
            elif value != resolved:
                source = "flag"
            out[name] = (value, source)
        return out

    @default("backend")
    def _default_backend(self) -> str:
        return str(self._resolved("backend")[0])

    @default("home")
    def _default_home(self) -> str:
        return str(self._resolved("home")[0])

    @default("max_concurrent_jobs")
    def _default_max_concurrent(self) -> int:
        return int(self._resolved("max_concurrent_jobs")[0])

    @default("default_bucket")
    def _default_default_bucket(self) -> str:
        return str(self._resolved("default_bucket")[0])

    @default("sample_every")
    def _default_sample_every(self) -> float:
        return float(self._resolved("sample_every")[0])

    @default("advice_window")
    def _default_advice_window(self) -> float:
        return float(self._resolved("advice_window")[0])

    @default("backup_interval")
    def _default_backup_interval(self) -> float:
        return float(self._resolved("backup_interval")[0])

    @default("backup_keep")
    def _default_backup_keep(self) -> int:
        return int(self._resolved("backup_keep")[0])

    @default("metrics_retention_days")
    def _default_metrics_retention_days(self) -> float:
        return float(self._resolved("metrics_retention_days")[0])

    @default("trust_pickle")
    def _default_trust_pickle(self) -> bool:
        return bool(self._resolved("trust_pickle")[0])

    @default("job_refs")
    def _default_job_refs(self) -> bool:
        return bool(self._resolved("job_refs")[0])

    @default("push_job_refs")
    def _default_push_job_refs(self) -> bool:
        return bool(self._resolved("push_job_refs")[0])

    @default("region")
    def _default_region(self) -> str:
        return str(self._resolved("region")[0])

    @default("workspace_id")
    def _default_workspace(self) -> str:
        return str(self._resolved("workspace_id")[0])

    @default("oss_bucket")
    def _default_oss_bucket(self) -> str:
        return str(self._resolved("oss_bucket")[0])

    @default("dlc_endpoint")
    def _default_dlc_endpoint(self) -> str:
        return str(self._resolved("dlc_endpoint")[0])

    @default("eas_endpoint")
    def _default_eas_endpoint(self) -> str:
        return str(self._resolved("eas_endpoint")[0])

    @default("oss_endpoint")
    def _default_oss_endpoint(self) -> str:
        return str(self._resolved("oss_endpoint")[0])

    @default("workspace_endpoint")
    def _default_workspace_endpoint(self) -> str:
        return str(self._resolved("workspace_endpoint")[0])

    @default("dsw_endpoint")
    def _default_dsw_endpoint(self) -> str:
        return str(self._resolved("dsw_endpoint")[0])

    @default("paiflow_endpoint")
    def _default_paiflow_endpoint(self) -> str:
        return str(self._resolved("paiflow_endpoint")[0])

    @default("sts_endpoint")
    def _default_sts_endpoint(self) -> str:
        return str(self._resolved("sts_endpoint")[0])

    @default("protocol")
    def _default_protocol(self) -> str:
        return str(self._resolved("protocol")[0])

    @default("server_ip")
    def _default_server_ip(self) -> str:
        return str(self._resolved("server_ip")[0])

    @default("server_port")
    def _default_server_port(self) -> int:
        return int(self._resolved("server_port")[0])

    @default("autostart")
    def _default_autostart(self) -> bool:
        return bool(self._resolved("autostart")[0])

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def bucket(self) -> str:
        """Where code snapshots, uploaded models and default outputs go."""
        bucket = self.oss_bucket or self.default_bucket
        if not bucket:
            raise ValidationError(
                "no OSS bucket is configured", "set PAI_JUPYTER_OSS_BUCKET or c.PaiConfig.oss_bucket"
            )
        return bucket


def _number(text: Any, integer: bool) -> float:
    if not isinstance(text, str):
        return text
    if integer:
        return int(text)
    from .durations import parse_duration

    return float(parse_duration(text, "value") or 0.0)


_current: PaiConfig | None = None


def current_config() -> PaiConfig:
    """The configuration in effect: the kernel's (``%config PaiConfig...``) once the
    extension is loaded, else one built from config files and the environment."""
    global _current
    if _current is None:
        _current = PaiConfig()
    return _current


def set_current_config(config: PaiConfig | None) -> None:
    global _current
    _current = config
