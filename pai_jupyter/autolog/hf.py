"""The Hugging Face ``TrainerCallback`` that sends ``Trainer``'s logs to ``report()``.

``on_log`` receives what ``Trainer.log`` records every ``logging_steps`` (loss, learning_rate,
grad_norm, epoch; eval_* after an evaluation; train_runtime... at the end), documented in
transformers' ``TrainerCallback.on_log``; only the main process reports, as the built-in
integrations do (``state.is_world_process_zero``).
"""

from __future__ import annotations

import numbers
from typing import Any

from transformers import TrainerCallback

from ..reporting import report


def numeric(logs: dict[str, Any] | None) -> dict[str, float]:
    return {
        k: float(v) for k, v in (logs or {}).items() if isinstance(v, numbers.Real) and not isinstance(v, bool)
    }


class PaiTrainerCallback(TrainerCallback):  # type: ignore[misc]
    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        values = numeric(logs)
        if values:
            report(step=state.global_step, **values)
