"""Local serving inside the control plane: the EAS-compatible gateway, instances, autoscaling
and rollouts. (What runs inside one instance lives in ``pai_jupyter.model_server``.)

- ``instances`` (+ ``procs``): start, health-check, drain and replace instance processes per version;
- ``gateway`` (+ ``upstream``, ``traffic``): ``/api/predict/<service>`` inside the control plane
  (auth, body limit, weighted routing, retries, cold-start queue, per-version windows);
- ``store``: services, versions, rollouts, events and metric snapshots in SQLite;
- ``manager`` (+ ``deploy``): the operations the REST API exposes;
- ``loops``: the autoscaler, rollout, health and snapshot loops that apply the pure
  decisions of ``pai_jupyter.decisions`` (``autoscale``, ``rollout``);
- ``setup``: the control plane's serving routes.

Wire shape of built-in processors: ``{"inputs": X}`` -> ``{"outputs": Y}`` (see
``pai_jupyter.model_server.server``); custom processors get the request bytes, path and headers
as sent. Every response carries ``X-PAI-Version``.

Tuning (environment of the control plane; defaults in brackets):
``PAI_SERVING_AUTOSCALE_INTERVAL_S`` [1], ``PAI_SERVING_ROLLOUT_INTERVAL_S`` [0.25],
``PAI_SERVING_SNAPSHOT_INTERVAL_S`` [5], ``PAI_SERVING_QPS_WINDOW_S`` [10],
``PAI_SERVING_HEALTH_INTERVAL_S`` [1], ``PAI_SERVING_START_TIMEOUT_S`` [60],
``PAI_SERVING_COLD_START_TIMEOUT_S`` [30], ``PAI_SERVING_MAX_QUEUED`` [256],
``PAI_SERVING_MAX_DATE_SKEW_S`` [900], ``PAI_SERVING_REQUEST_TIMEOUT_S`` [60],
``PAI_SERVING_THREADS`` [1] (model runtime threads per instance).
"""
