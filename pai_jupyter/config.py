"""``PaiConfig``: every setting in one traitlets class.

Set it the Jupyter way (``c.PaiConfig.backend = "aliyun"`` in a config file,
``%config PaiConfig.backend = "aliyun"`` in a kernel) or through environment
variables, which are read as defaults: ``PAI_JUPYTER_BACKEND``,
``PAI_JUPYTER_HOME``, ``PAI_JUPYTER_REGION``, ``PAI_JUPYTER_WORKSPACE_ID``,
``PAI_JUPYTER_OSS_BUCKET``, ``PAI_JUPYTER_DLC_ENDPOINT``,
``PAI_JUPYTER_EAS_ENDPOINT``, ``PAI_JUPYTER_OSS_ENDPOINT``,
``PAI_JUPYTER_PROTOCOL``, ``PAI_JUPYTER_BACKUP_INTERVAL``, ``PAI_JUPYTER_BACKUP_KEEP``,
``PAI_JUPYTER_TRUST_PICKLE``. Inside PAI-DSW the region and workspace default to
what DSW sets (``REGION``, ``PAI_WORKSPACE_ID``).
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Float, Int, Unicode, default
from traitlets.config import Configurable

from .errors import ValidationError


def _env(*names: str, fallback: str = "") -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return fallback


def _float_env(name: str, fallback: float) -> float:
    text = _env(name)
    if not text:
        return fallback
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(f"{name}={text!r} is not a number") from None
    if not 0 <= value < 10**9:
        raise ValidationError(f"{name}={text!r} is out of range", "give a number from 0 to 999999999")
    return value


def in_dsw() -> bool:
    """True inside a PAI-DSW notebook instance."""
    return bool(os.environ.get("DSW_INSTANCE_ID"))


class PaiConfig(Configurable):
    backend = Unicode(help="Which backend to use: 'local' (no account needed) or 'aliyun'.").tag(config=True)
    home = Unicode(help="State folder of the local backend (jobs, storage, SQLite).").tag(config=True)

    # Local control plane
    server_ip = Unicode("127.0.0.1", help="Address the local control plane binds.").tag(config=True)
    server_port = Int(0, help="Port of the local control plane; 0 picks a free one.").tag(config=True)
    max_concurrent_jobs = Int(help="Jobs the local runner runs at once; further jobs wait in Queuing.").tag(
        config=True
    )
    default_bucket = Unicode(help="Bucket for outputs, checkpoints and code snapshots when a job names none.").tag(
        config=True
    )
    autostart = Bool(True, help="Start the local control plane on first use when none runs.").tag(config=True)
    backup_interval = Float(
        help="Seconds between backups of the control plane's state.sqlite (one is also taken at start); 0: only at start."
    ).tag(config=True)
    backup_keep = Int(help="Backups of state.sqlite kept in <home>/backups (the oldest are removed).").tag(
        config=True
    )

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

    @default("job_refs")
    def _default_job_refs(self) -> bool:
        return _env("PAI_JUPYTER_JOB_REFS", fallback="1").lower() not in ("0", "false", "no")

    @default("push_job_refs")
    def _default_push_job_refs(self) -> bool:
        return _env("PAI_JUPYTER_PUSH_JOB_REFS").lower() in ("1", "true", "yes")

    @default("backend")
    def _default_backend(self) -> str:
        return _env("PAI_JUPYTER_BACKEND", fallback="local")

    @default("home")
    def _default_home(self) -> str:
        return _env("PAI_JUPYTER_HOME", fallback=str(Path(jupyter_data_dir()) / "pai"))

    @default("max_concurrent_jobs")
    def _default_max_concurrent(self) -> int:
        return int(_env("PAI_JUPYTER_MAX_CONCURRENT_JOBS", fallback="4"))

    @default("default_bucket")
    def _default_default_bucket(self) -> str:
        return _env("PAI_JUPYTER_OSS_BUCKET", fallback="pai-jupyter")

    @default("backup_interval")
    def _default_backup_interval(self) -> float:
        return _float_env("PAI_JUPYTER_BACKUP_INTERVAL", 3600.0)

    @default("backup_keep")
    def _default_backup_keep(self) -> int:
        return int(_float_env("PAI_JUPYTER_BACKUP_KEEP", 5))

    @default("trust_pickle")
    def _default_trust_pickle(self) -> bool:
        return _env("PAI_JUPYTER_TRUST_PICKLE").lower() in ("1", "true", "yes")

    @default("region")
    def _default_region(self) -> str:
        return _env("PAI_JUPYTER_REGION", "REGION", "dsw_region", fallback="cn-hangzhou")

    @default("workspace_id")
    def _default_workspace(self) -> str:
        return _env("PAI_JUPYTER_WORKSPACE_ID", "PAI_WORKSPACE_ID", "PAI_AI_WORKSPACE_ID")

    @default("oss_bucket")
    def _default_oss_bucket(self) -> str:
        return _env("PAI_JUPYTER_OSS_BUCKET")

    @default("dlc_endpoint")
    def _default_dlc_endpoint(self) -> str:
        return _env("PAI_JUPYTER_DLC_ENDPOINT")

    @default("eas_endpoint")
    def _default_eas_endpoint(self) -> str:
        return _env("PAI_JUPYTER_EAS_ENDPOINT")

    @default("oss_endpoint")
    def _default_oss_endpoint(self) -> str:
        return _env("PAI_JUPYTER_OSS_ENDPOINT")

    @default("workspace_endpoint")
    def _default_workspace_endpoint(self) -> str:
        return _env("PAI_JUPYTER_WORKSPACE_ENDPOINT")

    @default("dsw_endpoint")
    def _default_dsw_endpoint(self) -> str:
        return _env("PAI_JUPYTER_DSW_ENDPOINT")

    @default("protocol")
    def _default_protocol(self) -> str:
        return _env("PAI_JUPYTER_PROTOCOL", fallback="https")

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
