"""The Jupyter server extension: REST (``/pai/api/...``) and a push websocket for the sidebar.

Handlers only translate HTTP to calls of the client API (``pai_jupyter.api.jobs``
and ``pai_jupyter.api.services``) and records to JSON; they hold no business
logic. Every endpoint needs the Jupyter server's authentication
(``@web.authenticated`` + ``@authorized``, resource ``pai``; the websocket
``@ws_authenticated``). Errors are ``PaiError.to_json()`` bodies
(``{"error", "hint", "type"}``) with the error's HTTP status (400, 404, 409,
503, ...). Every route takes ``?backend=NAME`` to address another backend than
the configured one (``c.PaiConfig.backend``).

REST (``extension.py`` has the table):

- ``GET  /pai/api/info``                          version, backend, backends, push interval
- ``GET  /pai/api/jobs?limit=&state=&name=``       ``{"jobs": [JobRecord...]}`` newest first
- ``GET  /pai/api/jobs/ID``                       ``{"job", "provenance": summary, "advice": [...]}``
- ``GET  /pai/api/jobs/ID/metrics?since=&name=``   ``{"metrics": [MetricPoint...]}``
- ``GET  /pai/api/jobs/ID/logs?worker=&tail=``     ``{"worker", "text"}``
- ``GET  /pai/api/jobs/ID/events``                ``{"events": [JobEvent...]}``
- ``GET  /pai/api/jobs/ID/provenance``            ``{"provenance", "summary"}``
- ``POST /pai/api/jobs/ID/stop``                  ``{"job"}``
- ``GET  /pai/api/jobs/ID/lineage``               ``{"lineage"}``: commit + ref, environment, data fingerprints, spec
- ``GET  /pai/api/services``                      ``{"services": [ServiceRecord...]}``
- ``GET  /pai/api/services/NAME``                 ``{"service"}``
- ``GET  /pai/api/services/NAME/metrics?since=``   ``{"metrics": [ServiceMetricPoint...]}``
- ``GET  /pai/api/services/NAME/events?since=``    ``{"events": [ServiceEvent...]}``
- ``POST /pai/api/services/NAME/rollout/ACTION``  pause | resume | promote | abort -> ``{"service"}``
- ``POST /pai/api/services/NAME/rollback``        body ``{"version": N}`` -> ``{"service"}``
- ``GET  /pai/api/services/NAME/lineage?version=`` ``{"lineage"}``: model hash -> job -> commit -> ... -> rollout

Push (``/pai/api/push``, websocket): send ``{"type": "subscribe", "topics": [...]}``
with topics ``jobs``, ``job:<id>``, ``services``, ``service:<name>``; receive
``{"topic", "type": jobs|job|metrics|logs|events|services|service|error, ...}``
whenever something changed (see ``topics.py``).
"""
