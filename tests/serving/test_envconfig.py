"""``PAI_SERVING_<FIELD>`` overrides: typed values land on the configs; a bad value is a one-line ValidationError."""

from __future__ import annotations

import pytest

from pai_jupyter.controlplane.serving.gateway import GatewayConfig
from pai_jupyter.controlplane.serving.instances import InstanceConfig
from pai_jupyter.controlplane.serving.loops import LoopConfig
from pai_jupyter.errors import ValidationError


def test_overrides_are_typed_per_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_SERVING_MAX_QUEUED", "7")
    monkeypatch.setenv("PAI_SERVING_COLD_START_TIMEOUT_S", "2.5")
    monkeypatch.setenv("PAI_SERVING_QPS_WINDOW_S", "3")
    monkeypatch.setenv("PAI_SERVING_START_TIMEOUT_S", "9")
    gw = GatewayConfig.from_env()
    assert gw.max_queued == 7 and isinstance(gw.max_queued, int)
    assert gw.cold_start_timeout_s == 2.5
    assert LoopConfig.from_env().qps_window_s == 3.0
    assert InstanceConfig.from_env().start_timeout_s == 9.0


def test_instance_config_reads_only_its_listed_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAI_SERVING_STOP_GRACE_S", "99")
    assert InstanceConfig.from_env().stop_grace_s == InstanceConfig().stop_grace_s


@pytest.mark.parametrize(
    ("var", "raw"), [("PAI_SERVING_MAX_QUEUED", "1.5"), ("PAI_SERVING_ROLLOUT_INTERVAL_S", "fast")]
)
def test_bad_value_is_a_validation_error(monkeypatch: pytest.MonkeyPatch, var: str, raw: str) -> None:
    monkeypatch.setenv(var, raw)
    config = GatewayConfig if var.endswith("QUEUED") else LoopConfig
    with pytest.raises(ValidationError) as info:
        config.from_env()
    assert var in info.value.message and "\n" not in info.value.message
    assert info.value.hint and var in info.value.hint
