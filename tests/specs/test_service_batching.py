"""Batching in ``ServiceSpec``: validation, and the exact round trip through EAS's ``metadata.rpc``."""

from __future__ import annotations

import pytest

from pai_jupyter.errors import ValidationError
from pai_jupyter.specs.batching import batching_options
from pai_jupyter.specs.service import ServiceSpec


def spec(**changes: object) -> ServiceSpec:
    return ServiceSpec(name="mlp", processor="onnx", **changes).validate()  # type: ignore[arg-type]


def test_batching_round_trips_through_the_eas_service_json() -> None:
    batched = spec(max_batch_size=32, max_batch_timeout_ms=20)
    body = batched.to_eas("oss://bucket/models/mlp/")
    # Field names and units: reference §3.2; nested the way the PAI SDK's InferenceSpec writes them.
    assert body["metadata"]["rpc"] == {"batching": True, "max_batch_size": 32, "max_batch_timeout": 20}
    assert ServiceSpec.from_eas(body) == batched
    assert ServiceSpec.from_dict(batched.to_dict()) == batched

    plain = spec()
    body = plain.to_eas("oss://bucket/models/mlp/")
    assert "rpc" not in body["metadata"]
    assert ServiceSpec.from_eas(body) == plain
    assert (plain.max_batch_size, plain.max_batch_timeout_ms) == (None, None)

    # 0 ms: batch only what queued while the model was busy; still on.
    eager = spec(max_batch_size=8, max_batch_timeout_ms=0)
    assert eager.to_eas("oss://b/m/")["metadata"]["rpc"]["max_batch_timeout"] == 0
    assert ServiceSpec.from_eas(eager.to_eas("oss://b/m/")) == eager


def test_service_json_written_for_the_console_reads_back() -> None:
    base = {"name": "mlp", "processor": "onnx", "model_path": "oss://b/m/"}
    # batching on without sizes: EAS's defaults (16 requests, 50 ms; reference §3.2)
    on = ServiceSpec.from_eas({**base, "metadata": {"instance": 1, "rpc": {"batching": True}}})
    assert (on.max_batch_size, on.max_batch_timeout_ms) == (16, 50)
    # the flat keys of the PAI SDK's older schema (pai/schema/service_schema.py, _make_rpc_config)
    flat = {"instance": 1, "rpc.batching": True, "rpc.max_batch_size": 4, "rpc.max_batch_timeout": 10}
    old = ServiceSpec.from_eas({**base, "metadata": flat})
    assert (old.max_batch_size, old.max_batch_timeout_ms) == (4, 10)
    # sizes without batching: off, as on EAS
    off = ServiceSpec.from_eas(
        {**base, "metadata": {"instance": 1, "rpc": {"batching": False, "max_batch_size": 8}}}
    )
    assert (off.max_batch_size, off.max_batch_timeout_ms) == (None, None)
    # other rpc settings are not batching
    keep = ServiceSpec.from_eas({**base, "metadata": {"instance": 1, "rpc": {"keepalive": 5000}}})
    assert keep.max_batch_size is None
    with pytest.raises(ValidationError, match="max_batch_timeout must be a whole number"):
        ServiceSpec.from_eas({**base, "metadata": {"rpc": {"batching": True, "max_batch_timeout": 2.5}}})


@pytest.mark.parametrize(
    ("size", "timeout", "message"),
    [
        (1, 50, "--max-batch-size must be a whole number from 2 to 1024, got 1"),
        (5000, 50, "--max-batch-size must be a whole number from 2 to 1024, got 5000"),
        (True, 50, "--max-batch-size must be a whole number"),
        (16, -1, "--max-batch-timeout must be whole milliseconds from 0 to 10000, got -1"),
        (16, 10_001, "--max-batch-timeout must be whole milliseconds from 0 to 10000, got 10001"),
        (16, 2.5, "--max-batch-timeout must be whole milliseconds"),
    ],
)
def test_out_of_range_batching_is_one_clear_error(size: object, timeout: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        spec(max_batch_size=size, max_batch_timeout_ms=timeout)
    assert message in info.value.message and info.value.hint


def test_a_custom_command_batches_itself() -> None:
    with pytest.raises(ValidationError, match="for built-in processors, not custom commands"):
        ServiceSpec(
            name="own", processor="custom", command="python serve.py", max_batch_size=8, max_batch_timeout_ms=5
        ).validate()


def test_either_option_alone_turns_batching_on_with_eas_defaults() -> None:
    assert batching_options(None, None) == (None, None)
    assert batching_options(8, None) == (8, 50)
    assert batching_options(None, 5) == (16, 5)
    with pytest.raises(ValidationError, match="from 2 to 1024"):
        batching_options(0, None)
