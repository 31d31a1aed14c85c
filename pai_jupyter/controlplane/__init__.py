"""The local control plane: one long-lived process owning jobs, storage and serving state."""
