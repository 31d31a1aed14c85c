"""Local serving: model servers, the EAS-compatible gateway, autoscaling and rollouts.

- ``processors/``: load a model of one format and answer JSON predictions;
- ``model_server``: one instance = one process serving one processor over HTTP;
- ``instances``: start, health-check and replace instance processes per version;
- ``gateway``: ``/api/predict/<service>`` inside the control plane (auth, routing, windows);
- ``store``: services, versions, rollouts, events and metric snapshots in SQLite;
- ``loops``: the autoscaler and rollout loops that apply the pure decisions of
  ``autoscaler`` and ``rollout``.
"""
