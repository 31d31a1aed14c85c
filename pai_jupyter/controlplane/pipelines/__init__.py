"""Pipelines on the local control plane: definitions, runs and triggers in SQLite (``store``), the
loop that starts and follows them (``engine``), and their REST routes (``routes``)."""
