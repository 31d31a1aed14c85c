"""Validated, serialisable specs that round-trip to the native DLC / EAS formats."""

from .job import DataInput, JobSpec, SpotPolicy

__all__ = ["DataInput", "JobSpec", "SpotPolicy"]
