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
from ..base import Backend

if TYPE_CHECKING:  # pragma: no cover
    from .eas_serving import EasServing


class AliyunBackend(Backend):
    id = "aliyun"
    display_name = "Alibaba Cloud PAI"
    description = "PAI-DLC training, PAI-EAS serving and OSS storage through the official SDKs."
    reconcile_interval = 5.0  # each reconcile is several OpenAPI calls (and probes, during a rollout)

    def __init__(self, config: PaiConfig) -> None:
        from .dlc_training import DlcTraining
        from .oss_storage import OssStorage

        self.config = config
        self.storage = OssStorage(config)
        self.training = DlcTraining(config, self.storage)
        self._serving: EasServing | None = None

    @property
    def serving(self) -> EasServing:  # type: ignore[override]
        if self._serving is None:
            from .eas_serving import EasServing

            self._serving = EasServing(self.config, self.storage)
        return self._serving
