"""``PaiExtension``: the Jupyter server extension behind the PAI sidebar.

Enabled at install time by ``jupyter-config/server-config/pai_jupyter.json``.
Configure it like any Jupyter app: ``c.PaiConfig.backend = "aliyun"`` (the
backend's settings) and ``c.PaiExtension.push_interval = 0.25``.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int

from ..config import PaiConfig
from .context import PaiContext
from .jobs_handlers import (
    JobEventsHandler,
    JobHandler,
    JobLogsHandler,
    JobMetricsHandler,
    JobProvenanceHandler,
    JobsHandler,
    JobStopHandler,
)
from .lineage_handlers import JobLineageHandler, ServiceLineageHandler
from .meta_handlers import InfoHandler
from .pipelines_handlers import PipelineHandler, PipelineRunHandler, PipelinesHandler, PipelineStateHandler
from .push import PushHandler
from .rollouts import RolloutDriver
from .services_handlers import (
    RollbackHandler,
    RolloutActionHandler,
    ServiceEventsHandler,
    ServiceHandler,
    ServiceMetricsHandler,
    ServicesHandler,
)

_ID = r"(?P<job_id>[A-Za-z0-9_.\-]+)"
_NAME = r"(?P<name>[A-Za-z0-9_.\-]+)"


class PaiExtension(ExtensionApp):
    name = "pai_jupyter"
    load_other_extensions = True

    push_interval = Float(0.25, help="Seconds between checks for changes on the push channel.").tag(config=True)
    api_threads = Int(8, help="Threads that run the blocking client API for requests.").tag(config=True)

    handlers = [
        (r"/pai/api/info", InfoHandler),
        (r"/pai/api/push", PushHandler),
        (r"/pai/api/jobs", JobsHandler),
        (rf"/pai/api/jobs/{_ID}", JobHandler),
        (rf"/pai/api/jobs/{_ID}/metrics", JobMetricsHandler),
        (rf"/pai/api/jobs/{_ID}/logs", JobLogsHandler),
        (rf"/pai/api/jobs/{_ID}/events", JobEventsHandler),
        (rf"/pai/api/jobs/{_ID}/provenance", JobProvenanceHandler),
        (rf"/pai/api/jobs/{_ID}/stop", JobStopHandler),
        (rf"/pai/api/jobs/{_ID}/lineage", JobLineageHandler),
        (r"/pai/api/services", ServicesHandler),
        (rf"/pai/api/services/{_NAME}", ServiceHandler),
        (rf"/pai/api/services/{_NAME}/metrics", ServiceMetricsHandler),
        (rf"/pai/api/services/{_NAME}/events", ServiceEventsHandler),
        (rf"/pai/api/services/{_NAME}/rollout/(?P<action>[a-z]+)", RolloutActionHandler),
        (rf"/pai/api/services/{_NAME}/rollback", RollbackHandler),
        (rf"/pai/api/services/{_NAME}/lineage", ServiceLineageHandler),
        (r"/pai/api/pipelines", PipelinesHandler),
        (rf"/pai/api/pipelines/{_NAME}", PipelineHandler),
        (rf"/pai/api/pipelines/{_NAME}/run", PipelineRunHandler),
        (rf"/pai/api/pipelines/{_NAME}/(?P<action>pause|resume)", PipelineStateHandler),
    ]

    drive_rollouts = Bool(
        True, help="Drive the aliyun rollouts started from this workspace in the background (leases)."
    ).tag(config=True)

    context: PaiContext | None = None
    rollout_driver: RolloutDriver | None = None

    def initialize_settings(self) -> None:
        # PaiConfig takes this server's config files (c.PaiConfig...) and the PAI_JUPYTER_* environment.
        config = PaiConfig(parent=self.serverapp)
        self.context = PaiContext(config, push_interval=self.push_interval, workers=self.api_threads)
        self.settings.update({"pai_context": self.context})
        self.log.info("pai_jupyter: serving /pai/api with the %s backend", config.backend)
        if self.drive_rollouts and config.backend == "aliyun":
            # The local control plane drives its own rollouts; EAS has no controller of ours.
            self.rollout_driver = RolloutDriver(self.context)
            self.rollout_driver.start()

    async def stop_extension(self) -> None:
        if self.rollout_driver is not None:
            self.rollout_driver.stop()
        if self.context is not None:
            self.context.close()

    def _jupyter_server_extension_points(self) -> list[dict[str, Any]]:  # pragma: no cover
        return [{"module": "pai_jupyter.server.extension", "app": PaiExtension}]
