"""A service's batching settings: validation, defaults, and EAS's ``metadata.rpc`` fields.

``ServiceSpec.max_batch_size`` (requests per batch) and
``ServiceSpec.max_batch_timeout_ms`` (the longest a queued request waits for
others) are both None when batching is off, both set when it is on. The local
backend runs them in ``model_server.batching``; on EAS they are the service JSON's

    "metadata": {"rpc": {"batching": true, "max_batch_size": N, "max_batch_timeout": D}}

Field names, units and defaults: reference §3.2 (the "Parameters of model
services" doc: ``rpc.batching``, ``rpc.max_batch_size`` default 16,
``rpc.max_batch_timeout`` default 50, in ms). Nested as ``metadata.rpc.*``
the way the PAI Python SDK writes it (aliyun/pai-python-sdk ``pai/model.py``,
``InferenceSpec.add_option("metadata.rpc.max_batch_size", 8)`` ->
``{"metadata": {"rpc": {"max_batch_size": 8}}}``); the SDK's older schema
(``pai/schema/service_schema.py``, ``_make_rpc_config``) reads flat
``metadata["rpc.batching"]`` keys, so ``from_eas_metadata`` accepts both.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError

# EAS's defaults when batching is on without sizes (reference §3.2).
DEFAULT_MAX_BATCH_SIZE = 16
DEFAULT_MAX_BATCH_TIMEOUT_MS = 50
# Accepted ranges (ours): a batch above 1024 requests or a wait above 10 s is a typo, not a plan.
MAX_BATCH_SIZE_RANGE = (2, 1024)
MAX_BATCH_TIMEOUT_MS_RANGE = (0, 10_000)
SIZE_HINT = (
    f"requests per batch, e.g. --max-batch-size {DEFAULT_MAX_BATCH_SIZE}; omit both options to serve unbatched"
)
TIMEOUT_HINT = (
    f"whole milliseconds, e.g. --max-batch-timeout {DEFAULT_MAX_BATCH_TIMEOUT_MS}; "
    "0 batches only what is already queued"
)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_batching(max_batch_size: Any, max_batch_timeout_ms: Any) -> None:
    """Raise ``ValidationError`` unless both are None (off) or both are in range."""
    if max_batch_size is None and max_batch_timeout_ms is None:
        return
    lo, hi = MAX_BATCH_SIZE_RANGE
    if not _whole(max_batch_size) or not lo <= max_batch_size <= hi:
        raise ValidationError(
            f"--max-batch-size must be a whole number from {lo} to {hi}, got {max_batch_size!r}", SIZE_HINT
        )
    lo_ms, hi_ms = MAX_BATCH_TIMEOUT_MS_RANGE
    if not _whole(max_batch_timeout_ms) or not lo_ms <= max_batch_timeout_ms <= hi_ms:
        raise ValidationError(
            f"--max-batch-timeout must be whole milliseconds from {lo_ms} to {hi_ms}, got {max_batch_timeout_ms!r}",
            TIMEOUT_HINT,
        )


def batching_options(
    max_batch_size: int | None, max_batch_timeout_ms: int | None
) -> tuple[int | None, int | None]:
    """Either option alone turns batching on; the other takes EAS's default (16 requests, 50 ms)."""
    if max_batch_size is None and max_batch_timeout_ms is None:
        return None, None
    size = DEFAULT_MAX_BATCH_SIZE if max_batch_size is None else max_batch_size
    timeout = DEFAULT_MAX_BATCH_TIMEOUT_MS if max_batch_timeout_ms is None else max_batch_timeout_ms
    check_batching(size, timeout)
    return size, timeout


def to_eas_rpc(max_batch_size: int | None, max_batch_timeout_ms: int | None) -> dict[str, Any] | None:
    """``metadata.rpc`` for the service JSON, or None when batching is off."""
    if max_batch_size is None:
        return None
    return {"batching": True, "max_batch_size": max_batch_size, "max_batch_timeout": max_batch_timeout_ms}


def from_eas_metadata(metadata: dict[str, Any]) -> tuple[int | None, int | None]:
    """``(max_batch_size, max_batch_timeout_ms)`` from a service JSON's ``metadata``."""
    rpc = metadata.get("rpc")
    rpc = dict(rpc) if isinstance(rpc, dict) else {}
    for key, value in metadata.items():  # the older flat form: "rpc.batching": true
        if isinstance(key, str) and key.startswith("rpc."):
            rpc.setdefault(key[4:], value)
    batching = rpc.get("batching")
    if isinstance(batching, str):
        batching = batching.strip().lower() in ("true", "1", "yes")
    if not batching:
        return None, None
    values = []
    for key, default in (
        ("max_batch_size", DEFAULT_MAX_BATCH_SIZE),
        ("max_batch_timeout", DEFAULT_MAX_BATCH_TIMEOUT_MS),
    ):
        raw = rpc.get(key, default)
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValidationError(f"metadata.rpc.{key} is not a number: {raw!r}") from None
        if not number.is_integer():
            raise ValidationError(f"metadata.rpc.{key} must be a whole number, got {raw!r}")
        values.append(int(number))
    check_batching(values[0], values[1])
    return values[0], values[1]
