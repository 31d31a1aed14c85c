"""Local serving inside the control plane: the EAS-compatible gateway, instances, autoscaling
and rollouts. (What runs inside one instance lives in ``pai_jupyter.model_server``.)

- ``instances`` (+ ``procs``): start, health-check, drain and replace instance processes per version;
- ``gateway`` (+ ``gateway_listener``, ``upstream``, ``traffic``): ``/api/predict/<service>``
  inside the control plane (auth, body limit, weighted routing, retries, cold-start queue,
  per-version windows);
- ``http1``: HTTP/1.1 framing on llhttp (``httptools``) for the gateway listener and the
  instances: the refusals (smuggling, control characters, unknown versions), chunked bodies,
  the head deadline and the connection cap;
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
``PAI_SERVING_THREADS`` [1] (model runtime threads per instance),
``PAI_SERVING_HEAD_TIMEOUT_S`` [10] (a request head must arrive within it, else 408),
``PAI_SERVING_IDLE_TIMEOUT_S`` [75] (idle keep-alive connections close),
``PAI_SERVING_MAX_CONNECTIONS`` [1024] (open connections per listener; one more gets 503),
``PAI_SERVING_BODY_TIMEOUT_S`` [60] (a request body must arrive within it of its head, else 408);
the last four apply to the gateway and to every instance.
"""
