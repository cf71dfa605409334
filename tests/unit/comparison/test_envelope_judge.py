"""Judging a difference in multiples of the calibrated rounding envelope."""

from __future__ import annotations

import math

import pytest

from reprocheck.comparison.envelope import SAFETY, EnvelopeJudgement, judge
from reprocheck.comparison.numerics import TensorDiff
from reprocheck.model.envelope import ScenarioEnvelope
from reprocheck.model.records import ScenarioConfig, ScenarioRecord, StepRecord


def _step(step: int, loss: float, lr: float = 0.1) -> StepRecord:
    return StepRecord(
        step=step,
        loss=loss,
        grad_norm=1.0,
        param_norm=2.0,
        lr=lr,
        batch_digest="b",
        metrics={},
        param_digests={},
        grad_digests={},
        param_norms={},
    )


def _record(*steps: StepRecord) -> ScenarioRecord:
    config = ScenarioConfig(steps=len(steps), seed=0, device="cpu", dtype="float32", trace_steps=0)
    return ScenarioRecord(
        name="s", source="s", config=config, init_digests={}, steps=steps, trace=(), tensors={}
    )


ENVELOPE = ScenarioEnvelope(
    name="s",
    variants=("threads=1",),
    steps=({"loss": 1e-6}, {"loss": 0.0}, {"loss": 4e-6}),
    tensors={"param/w": 1e-7},
)


def test_the_envelope_at_a_step_is_the_running_maximum() -> None:
    assert ENVELOPE.bound(1, "loss") == 1e-6
    assert ENVELOPE.bound(2, "loss") == 4e-6
    assert ENVELOPE.bound(0, "never seen") == 0.0


def test_a_difference_inside_the_envelope_is_within_tolerance() -> None:
    b = _record(_step(0, 1.0), _step(1, 0.5))
    c = _record(_step(0, 1.0 + 2e-6), _step(1, 0.5))
    judged = judge(ENVELOPE, b, c, [])
    assert judged.verdict == "within_tolerance"
    assert judged.multiple == pytest.approx(2.0, rel=1e-6)
    assert (judged.step, judged.quantity) == (0, "loss")


def test_the_first_step_beyond_the_envelope_is_named() -> None:
    b = _record(_step(0, 1.0), _step(1, 0.5), _step(2, 0.25))
    c = _record(_step(0, 1.0), _step(1, 0.5 + 4e-4), _step(2, 0.3))
    judged = judge(ENVELOPE, b, c, [])
    assert judged.verdict == "drift"
    assert judged.step == 1  # not step 2, where the multiple is larger
    assert judged.multiple == pytest.approx(400.0, rel=1e-3)
    assert judged.text() == "drift = 400x the rounding envelope at step 1 (loss)"


def test_a_changed_learning_rate_is_beyond_any_envelope() -> None:
    b = _record(_step(0, 1.0, lr=0.01))
    c = _record(_step(0, 1.0, lr=1e6))
    judged = judge(ENVELOPE, b, c, [])
    assert judged.verdict == "drift"
    assert judged.quantity == "lr"
    assert judged.multiple > 1e20  # the envelope of the LR is zero: only the ULP floor
    assert judged.text() == "drift = 5.8e+23x the rounding envelope at step 0 (lr)"


def test_an_infinite_multiple_reads_as_outside_the_envelope() -> None:
    judged = EnvelopeJudgement(math.inf, None, "param/w", "drift")
    assert judged.text() == (
        "drift: outside the rounding envelope in the final tensors (param/w, which no "
        "benign reordering moved in calibration)"
    )


def test_one_float32_ulp_of_an_unmoved_quantity_is_still_rounding() -> None:
    b = _record(_step(0, 1.0), _step(1, 0.5))
    c = _record(_step(0, 1.0), _step(1, 0.5 + 2.0**-24))  # one float32 ULP of 0.5
    assert judge(ScenarioEnvelope("s", (), ({}, {}), {}), b, c, []).verdict == ("within_tolerance")


def test_final_tensors_are_judged_against_their_envelope() -> None:
    b = c = _record(_step(0, 1.0))
    moved = TensorDiff(key="s/param/w", status="exceeds_tolerance", max_abs=5e-5)
    judged = judge(ENVELOPE, b, c, [moved])
    assert judged.verdict == "drift"
    assert (judged.step, judged.quantity) == (None, "param/w")
    assert "in the final tensors" in judged.text()
    missing = TensorDiff(key="s/param/w", status="missing_in_candidate")
    assert math.isinf(judge(ENVELOPE, b, c, [missing]).multiple)


def test_a_judgement_reads_back_from_its_dict() -> None:
    judged = EnvelopeJudgement(40.0, 3, "loss", "drift", SAFETY)
    assert EnvelopeJudgement.from_dict(judged.to_dict()) == judged
    assert judged.text() == "drift = 40x the rounding envelope at step 3 (loss)"
