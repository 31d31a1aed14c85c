"""PipelineSpec: validation (one line each), JSON round trip, order; the gate's parser."""

from __future__ import annotations

import pytest

from pai_jupyter.errors import ValidationError
from pai_jupyter.specs.gate import parse_gate
from pai_jupyter.specs.job import JobSpec
from pai_jupyter.specs.pipeline import (
    CronTrigger,
    DeployOptions,
    OssTrigger,
    PipelineSpec,
    StepSpec,
)
from pai_jupyter.specs.rollout import RolloutPlan


def _job(name: str) -> JobSpec:
    return JobSpec(name=name)


def _spec(**changes: object) -> PipelineSpec:
    steps = (
        StepSpec("preprocess", "preprocess", job=_job("prep"), source="print(1)"),
        StepSpec("train", "train", job=_job("train"), source="print(2)", inputs={"data": "preprocess.output"}),
        StepSpec(
            "eval",
            "eval",
            job=_job("eval"),
            source="print(3)",
            inputs={"model": "train.model"},
            gate="accuracy >= serving.accuracy - 0.005 and latency_p95_ms <= 50",
        ),
        StepSpec(
            "deploy",
            "deploy",
            inputs={"model": "train.model"},
            service="digits",
            after=("eval",),
            deploy=DeployOptions(processor="sklearn", options={"cpu": 1.0}, plan=RolloutPlan(steps=(50, 100))),
        ),
    )
    base = PipelineSpec(
        "retrain",
        steps=steps,
        triggers=(CronTrigger("*/5 * * * *"), OssTrigger("oss://bucket/incoming/", debounce_s=2)),
        provenance={"code_commit": "abc"},
    )
    return base.with_changes(**changes)


def test_round_trip_and_order() -> None:
    spec = _spec().validate()
    again = PipelineSpec.from_dict(spec.to_dict())
    assert again == spec
    assert [s.name for s in spec.order()] == ["preprocess", "train", "eval", "deploy"]
    assert spec.compare_service(spec.step("eval")) == "digits"
    assert spec.downstream("train") == {"eval", "deploy"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: (
                (
                    *s.steps[:1],
                    s.steps[1].__class__(
                        "train", "train", job=_job("t"), source="x", inputs={"data": "prep.output"}
                    ),
                )
            ),
            "names no step 'prep'",
        ),
        (
            lambda s: (
                *s.steps[:3],
                StepSpec(
                    "deploy", "deploy", inputs={"model": "eval.model"}, service="x", deploy=DeployOptions("onnx")
                ),
            ),
            "the eval step 'eval' gives metrics, output, not model",
        ),
        (
            lambda s: (
                StepSpec("a", "train", job=_job("a"), source="x", inputs={"d": "b.output"}),
                StepSpec("b", "train", job=_job("b"), source="x", inputs={"d": "a.output"}),
            ),
            "cycle: a -> b -> a",
        ),
        (lambda s: (*s.steps, StepSpec("train", "train", job=_job("t"), source="x")), "two steps named 'train'"),
        (lambda s: s.steps[:3], "no service to compare with"),
        (lambda s: (StepSpec("x", "fit", job=_job("x"), source="x"),), "kind 'fit' is not one of"),
        (lambda s: (StepSpec("d", "deploy", service="svc"),), "has no model"),
        (
            lambda s: (
                *s.steps[:3],
                StepSpec(
                    "deploy",
                    "deploy",
                    inputs={"model": "train.model"},
                    service="digits",
                    deploy=DeployOptions("onnx"),
                ),
            ),
            "deploys train.model without waiting for the gate of 'eval'",
        ),
    ],
)
def test_validation_one_line(change: object, message: str) -> None:
    spec = _spec()
    bad = spec.with_changes(steps=change(spec))  # type: ignore[operator]
    with pytest.raises(ValidationError) as exc:
        bad.validate()
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_bad_triggers_and_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="not a cron expression"):
        _spec(triggers=(CronTrigger("every minute"),)).validate()
    with pytest.raises(ValidationError, match="oss://"):
        _spec(triggers=(OssTrigger("s3://bucket/x"),)).validate()
    data = _spec().to_dict()
    data["steps"][0]["retries"] = 3
    with pytest.raises(ValidationError, match="unknown pipeline step field"):
        PipelineSpec.from_dict(data)
    data = _spec().to_dict()
    data["steps"][3]["deploy"]["options"]["cpus"] = 2
    with pytest.raises(ValidationError, match="unknown service spec field"):
        PipelineSpec.from_dict(data).validate()
    data["steps"][3]["deploy"] = {"processor": None, "options": {}, "plan": None, "new_api_version": False}
    with pytest.raises(ValidationError, match="names no processor"):
        PipelineSpec.from_dict(data).validate()


def test_gate_parser_allows_only_the_small_language() -> None:
    gate = parse_gate("accuracy >= serving.accuracy - 0.005 and not (latency_p95_ms > 50 or loss * 2 > 1)")
    assert gate.candidate_names == ("accuracy", "latency_p95_ms", "loss")
    assert gate.serving_names == ("accuracy",)
    for bad, why in [
        ("__import__('os').system('x') == 0", "function call"),
        ("accuracy.__class__ == 1", "attribute of something other than 'serving'"),
        ("accuracy", "must be a comparison"),
        ("accuracy ** 2 > 1", "operator other than"),
        ("accuracy in [1]", "comparison other than"),
        ("name == 'x'", "only numbers"),
        ("accuracy >=", "not an expression"),
    ]:
        with pytest.raises(ValidationError, match=why):
            parse_gate(bad)
