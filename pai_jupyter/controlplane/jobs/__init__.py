"""The control plane's training face: job store, runner, worker environment,
metrics ingestion and sampling.
"""
