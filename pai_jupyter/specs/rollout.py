"""``RolloutPlan``: blue-green steps and the gates checked at each, validated.

The decisions themselves are ``pai_jupyter.decisions.rollout.decide_rollout``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ValidationError
from ._checks import _is_int, _is_number, _known


@dataclass(frozen=True)
class RolloutPlan:
    """Blue-green steps (percent on the new version) and the gates checked at each.

    A step passes when it has baked ``bake_s`` and the new version has served
    ``min_requests``; it fails when the new version's error rate or p95 breaks an
    absolute cap or is worse than the old version's over the same window.
    """

    steps: tuple[float, ...] = (10.0, 50.0, 100.0)
    bake_s: float = 60.0
    min_requests: int = 100
    max_p95_ms: float | None = None
    max_error_rate: float = 0.05
    max_p95_ratio: float = 1.5
    max_error_rate_delta: float = 0.02
    # The relative p95 gate also needs the new p95 to be this much slower in
    # absolute terms: sub-millisecond models jitter by more than 1.5x.
    min_p95_delta_ms: float = 5.0

    def __post_init__(self) -> None:
        try:
            steps = tuple(float(s) for s in self.steps)
        except (TypeError, ValueError):
            raise ValidationError(
                f"rollout steps {self.steps!r} are not numbers", "write them like 10,50,100"
            ) from None
        object.__setattr__(self, "steps", steps)

    @classmethod
    def parse(cls, text: str, **gates: Any) -> RolloutPlan:
        """``RolloutPlan.parse("10,50,100", bake_s=30)``; validated."""
        parts = [p.strip().rstrip("%") for p in str(text).split(",") if p.strip()]
        try:
            steps = tuple(float(p) for p in parts)
        except ValueError:
            raise ValidationError(
                f"--plan {text!r} is not a list of percentages", "write it like 10,50,100"
            ) from None
        return cls(steps=steps, **gates).validate()

    def validate(self) -> RolloutPlan:
        if not self.steps:
            raise ValidationError("the rollout plan has no steps", "write it like 10,50,100")
        for s in self.steps:
            if not 0 < s <= 100:
                raise ValidationError(f"rollout step {s:g} % is outside (0, 100]", "write it like 10,50,100")
        if any(b <= a for a, b in zip(self.steps, self.steps[1:], strict=False)):
            raise ValidationError(
                f"rollout steps {self.steps_text} must increase", "each step puts more traffic on the new version"
            )
        if self.steps[-1] != 100:
            raise ValidationError(
                f"rollout plan {self.steps_text} must end at 100",
                "the last step moves all traffic to the new version",
            )
        if not _is_number(self.bake_s) or self.bake_s < 0:
            raise ValidationError(f"--bake must be >= 0 seconds, got {self.bake_s!r}")
        if not _is_int(self.min_requests) or self.min_requests < 0:
            raise ValidationError(f"--min-requests must be a whole number >= 0, got {self.min_requests!r}")
        if self.max_p95_ms is not None and (not _is_number(self.max_p95_ms) or self.max_p95_ms <= 0):
            raise ValidationError(f"--max-p95-ms must be positive, got {self.max_p95_ms!r}")
        if not _is_number(self.max_error_rate) or not 0 <= self.max_error_rate <= 1:
            raise ValidationError(
                f"--max-error-rate must be between 0 and 1, got {self.max_error_rate!r}", "0.05 means 5 %"
            )
        if not _is_number(self.max_p95_ratio) or self.max_p95_ratio < 1:
            raise ValidationError(f"--max-p95-ratio must be >= 1, got {self.max_p95_ratio!r}")
        if not _is_number(self.max_error_rate_delta) or not 0 <= self.max_error_rate_delta <= 1:
            raise ValidationError(
                f"--max-error-rate-delta must be between 0 and 1, got {self.max_error_rate_delta!r}"
            )
        if not _is_number(self.min_p95_delta_ms) or self.min_p95_delta_ms < 0:
            raise ValidationError(f"--min-p95-delta-ms must be >= 0, got {self.min_p95_delta_ms!r}")
        return self

    @property
    def steps_text(self) -> str:
        return ",".join(f"{s:g}" for s in self.steps)

    def gates(self) -> dict[str, Any]:
        """Everything but the steps (``RolloutRecord.gates``)."""
        data = self.to_dict()
        data.pop("steps")
        return data

    def with_changes(self, **changes: Any) -> RolloutPlan:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutPlan:
        return cls(**_known(cls, data, "rollout plan"))
