"""Training telemetry: GPU sampling through NVML and advice derived from the samples."""

from .advice import Advice, input_bound_advice
from .nvml import GpuDevice, NvmlReader, per_worker

__all__ = ["Advice", "GpuDevice", "NvmlReader", "input_bound_advice", "per_worker"]
