"""The ``aliyun`` backend: OSS storage, PAI-DLC training and PAI-EAS serving.

Selected with ``PaiConfig.backend = "aliyun"`` (or ``PAI_JUPYTER_BACKEND=aliyun``,
or ``--backend aliyun``). Nothing connects until first use, so building the backend
needs no network.

Everything in this package goes through the official SDKs (``alibabacloud-pai-dlc20201203``,
``alibabacloud-eas20210701``, ``oss2``) with credentials from ``alibabacloud-credentials``'
default chain: ``credentials``, ``sdk_errors``, ``oss_storage``, ``dlc_*`` (training) and
``eas_*`` (serving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...config import PaiConfig
from ...errors import BackendUnavailable
from ..base import Backend

if TYPE_CHECKING:  # pragma: no cover
    from .eas_serving import EasServing
    from .paiflow_pipelines import PaiflowPipelines

# The Alibaba Cloud SDKs the training face needs (core dependencies of pai-jupyter). Checked when
# the backend is built, so a missing or broken install is one line, not a traceback mid-call.
TRAINING_SDKS = {
    "oss2": "oss2",
    "alibabacloud_credentials": "alibabacloud-credentials",
    "alibabacloud_tea_openapi": "alibabacloud-tea-openapi",
    "alibabacloud_pai_dlc20201203": "alibabacloud-pai-dlc20201203",
    "alibabacloud_aiworkspace20210204": "alibabacloud-aiworkspace20210204",
    "alibabacloud_pai_dsw20220101": "alibabacloud-pai-dsw20220101",
}


def check_sdks(modules: dict[str, str] = TRAINING_SDKS) -> None:
    """Import each SDK; the first that is missing or broken becomes one BackendUnavailable line."""
    import importlib

    for module, package in modules.items():
        try:
            importlib.import_module(module)
        except Exception as exc:  # ImportError, or a broken package raising anything at import
            what = "is not installed" if isinstance(exc, ModuleNotFoundError) else f"cannot be imported ({exc})"
            raise BackendUnavailable(
                f"the aliyun backend needs the Alibaba Cloud SDK {package}, which {what}",
                f"reinstall pai-jupyter with its dependencies: pip install --force-reinstall pai-jupyter (or pip install {package})",
            ) from None


class AliyunBackend(Backend):
    id = "aliyun"
    display_name = "Alibaba Cloud PAI"
    description = "PAI-DLC training, PAI-EAS serving and OSS storage through the official SDKs."
    reconcile_interval = 5.0  # each reconcile is several OpenAPI calls (and probes, during a rollout)

    def __init__(self, config: PaiConfig) -> None:
        from .dlc_training import DlcTraining
        from .oss_storage import OssStorage

        check_sdks()
        self.config = config
        self.storage = OssStorage(config)
        self.training = DlcTraining(config, self.storage)
        self._adopt_workspace_bucket()
        self._serving: EasServing | None = None
        self._pipelines: PaiflowPipelines | None = None

    @property
    def serving(self) -> EasServing:  # type: ignore[override]
        if self._serving is None:
            from .eas_serving import EasServing

            self._serving = EasServing(self.config, self.storage)
        return self._serving

    @property
    def pipelines(self) -> PaiflowPipelines:
        """Pipelines compiled to PAI Pipelines (PAIFlow); built on first use (``base.PipelineBackend``)."""
        if self._pipelines is None:
            from .paiflow_pipelines import PaiflowPipelines

            self._pipelines = PaiflowPipelines(self.storage, self.training)
        return self._pipelines

    def _adopt_workspace_bucket(self) -> None:
        """Inside DSW with no bucket configured, use the workspace's default OSS storage
        (as the PAI SDK's default session does); outside DSW nothing connects here."""
        import os

        from ...config import in_dsw
        from ...errors import PaiError

        if self.config.oss_bucket or os.environ.get("PAI_JUPYTER_OSS_BUCKET") or not in_dsw():
            return
        try:
            bucket = self.training.workspace.default_bucket()
        except PaiError:
            return  # `jupyter pai doctor` shows why; the configured default bucket stays
        if bucket:
            self.config.oss_bucket = bucket
