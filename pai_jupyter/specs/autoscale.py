"""``AutoscalePolicy``: EAS horizontal autoscaling on QPS per instance, validated.

``to_eas_autoscaler()`` / ``from_eas_autoscaler()`` are the camelCase body of
Create/UpdateServiceAutoScaler (reference §3.4); the decisions themselves are
``pai_jupyter.decisions.autoscale.decide_scale``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ValidationError
from ._checks import _is_int, _is_number, _known, _num

ENVIRONMENTS = ("dev", "staging", "prod")
SCALE_TO_ZERO_ENVS = ("dev", "staging")
MAX_INSTANCES = 1000  # EAS's autoscaler ceiling


@dataclass(frozen=True)
class AutoscalePolicy:
    """EAS horizontal autoscaling on QPS per instance.

    ``scale_to_zero`` is EAS's ``min: 0`` (the next request cold-starts an
    instance); it needs ``min == 0`` and is refused in prod.
    """

    min: int = 1
    max: int = 1
    qps_per_instance: float = 50.0
    scale_in_cooldown_s: float = 300.0
    scale_to_zero: bool = False
    idle_grace_s: float = 600.0
    tolerance: float = 0.1

    def validate(self, env: str = "dev") -> AutoscalePolicy:
        if not _is_int(self.min) or self.min < 0:
            raise ValidationError(f"--min must be a whole number >= 0, got {self.min!r}")
        if not _is_int(self.max) or self.max < 1:
            raise ValidationError(f"--max must be a whole number >= 1, got {self.max!r}")
        if self.min > self.max:
            raise ValidationError(f"--min {self.min} is above --max {self.max}", "raise --max or lower --min")
        if self.max > MAX_INSTANCES:
            raise ValidationError(f"--max {self.max} is above EAS's limit of {MAX_INSTANCES} instances")
        if not _is_number(self.qps_per_instance) or self.qps_per_instance <= 0:
            raise ValidationError(f"--qps-per-instance must be positive, got {self.qps_per_instance!r}")
        if not _is_number(self.scale_in_cooldown_s) or self.scale_in_cooldown_s < 0:
            raise ValidationError(f"--scale-in-cooldown must be >= 0 seconds, got {self.scale_in_cooldown_s!r}")
        if not _is_number(self.idle_grace_s) or self.idle_grace_s < 0:
            raise ValidationError(f"--idle-grace must be >= 0 seconds, got {self.idle_grace_s!r}")
        if not _is_number(self.tolerance) or not 0 <= self.tolerance < 1:
            raise ValidationError(f"autoscaler tolerance must be in [0, 1), got {self.tolerance!r}")
        if self.scale_to_zero and self.min != 0:
            raise ValidationError(
                f"--scale-to-zero needs --min 0, got --min {self.min}", "drop --scale-to-zero or pass --min 0"
            )
        if self.min == 0 and not self.scale_to_zero:
            raise ValidationError("--min 0 means scale to zero", "add --scale-to-zero, or use --min 1 or more")
        if env == "prod" and self.min < 1:
            raise ValidationError(
                f"prod services need --min 1 or more, got --min {self.min}",
                "a prod endpoint must answer its first request without a cold start; "
                "scale to zero is for dev and staging",
            )
        if env not in ENVIRONMENTS:
            raise ValidationError(f"environment {env!r} is unknown", f"choose one of {', '.join(ENVIRONMENTS)}")
        return self

    @classmethod
    def fixed(cls, instances: int) -> AutoscalePolicy:
        """No autoscaling: exactly ``instances`` instances."""
        return cls(min=instances, max=instances, scale_to_zero=instances == 0)

    def with_changes(self, **changes: Any) -> AutoscalePolicy:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutoscalePolicy:
        return cls(**_known(cls, data, "autoscaler"))

    # -- EAS ----------------------------------------------------------------------
    def to_eas_autoscaler(self) -> dict[str, Any]:
        """The body of Create/UpdateServiceAutoScaler (camelCase, reference §3.4)."""
        return {
            "min": self.min,
            "max": self.max,
            "scaleStrategies": [{"metricName": "qps", "threshold": _num(self.qps_per_instance)}],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": _num(self.scale_in_cooldown_s)},
                "onZero": {"scaleDownGracePeriodSeconds": _num(self.idle_grace_s)},
            },
        }

    @classmethod
    def from_eas_autoscaler(cls, body: dict[str, Any], tolerance: float = 0.1) -> AutoscalePolicy:
        """Read an autoscaler body (ours, EAS's Describe response, or the service JSON's short form)."""
        if not isinstance(body, dict):
            raise ValidationError("an EAS autoscaler must be a JSON object")
        lo = body.get("min", body.get("MinReplica", 1))
        hi = body.get("max", body.get("MaxReplica", lo))
        threshold: Any = None
        for strategy in body.get("scaleStrategies") or []:
            if str(strategy.get("metricName", "")).lower() == "qps":
                threshold = strategy.get("threshold")
        if threshold is None:  # the service JSON's form: "strategies": {"qps": 10}
            threshold = (body.get("strategies") or {}).get("qps")
        if threshold is None:
            raise ValidationError(
                "the EAS autoscaler has no qps strategy", "pai-jupyter scales on QPS per instance; add one"
            )
        behavior = body.get("behavior") or {}
        cooldown = (behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds", 300)
        grace = (behavior.get("onZero") or {}).get("scaleDownGracePeriodSeconds", 600)
        return cls(
            min=int(lo),
            max=int(hi),
            qps_per_instance=float(threshold),
            scale_in_cooldown_s=float(cooldown),
            scale_to_zero=int(lo) == 0,
            idle_grace_s=float(grace),
            tolerance=tolerance,
        )
