"""Judge a candidate against the baseline's calibrated rounding envelope.

When the baseline run carries an envelope (``reprocheck calibrate``), a scenario's
difference is measured in multiples of it: per step and recorded quantity, ``|baseline -
candidate|`` over the envelope at that step (its running maximum: rounding differences are
carried, they do not shrink), and per final tensor the largest elementwise difference over
the largest one the calibration saw. The worst multiple decides: up to :data:`SAFETY` times
the envelope is ``within_tolerance``, beyond it ``drift``. A quantity no benign variant
moved (the learning rate, say) has envelope zero, so any change of it is drift.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Sequence
from typing import Any, Literal

from reprocheck._schema import encode_float, req_float, req_str
from reprocheck.comparison.numerics import TensorDiff
from reprocheck.errors import ArtifactError
from reprocheck.model.envelope import ScenarioEnvelope, deviation, step_quantities
from reprocheck.model.records import ScenarioRecord, StepRecord

__all__ = ["SAFETY", "EnvelopeJudgement", "judge"]

#: How many times the calibrated envelope a difference may reach and still be rounding.
#: The calibration samples a handful of reorderings; another environment's reordering
#: (another BLAS, another vector width) may land somewhat further out than the worst of
#: them, but a change of the computation lands orders of magnitude further.
SAFETY = 10.0
_EPS64 = 2.0**-52
_EPS32 = 2.0**-23
_NUMERIC = ("within_tolerance", "exceeds_tolerance")


@dataclasses.dataclass(frozen=True, slots=True)
class EnvelopeJudgement:
    """How a scenario's difference compares with its rounding envelope.

    Attributes:
        multiple: the worst difference in multiples of the envelope (``inf`` when
            something moved that no benign variant moves).
        step: the step where it is worst; None when it is a final tensor.
        quantity: what it was measured on (``loss``, ``param_norms/fc1.weight``,
            ``param/fc1.weight``).
        verdict: ``within_tolerance`` (multiple <= safety) or ``drift``.
        safety: the multiple allowed.
    """

    multiple: float
    step: int | None
    quantity: str
    verdict: Literal["within_tolerance", "drift"]
    safety: float = SAFETY

    def text(self) -> str:
        """``drift = 40x the rounding envelope at step 3 (loss)``."""
        where = "in the final tensors" if self.step is None else f"at step {self.step}"
        if math.isinf(self.multiple):
            return (
                f"{self.verdict}: outside the rounding envelope {where} ({self.quantity}, "
                "which no benign reordering moved in calibration)"
            )
        size = _times(self.multiple)
        return f"{self.verdict} = {size} the rounding envelope {where} ({self.quantity})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "multiple": encode_float(self.multiple),
            "step": self.step,
            "quantity": self.quantity,
            "verdict": self.verdict,
            "safety": encode_float(self.safety),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "envelope") -> EnvelopeJudgement:
        step = data.get("step") if isinstance(data, dict) else None
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise ArtifactError(f"{where}: key 'step' must be an integer or null")
        verdict = req_str(data, "verdict", where)
        if verdict not in ("within_tolerance", "drift"):
            raise ArtifactError(f"{where}: key 'verdict' must be within_tolerance or drift")
        return cls(
            multiple=req_float(data, "multiple", where),
            step=step,
            quantity=req_str(data, "quantity", where),
            verdict=verdict,  # type: ignore[arg-type]
            safety=req_float(data, "safety", where),
        )


def _times(multiple: float) -> str:
    if multiple < 10:
        return f"{multiple:.2g}x"
    return f"{multiple:,.0f}x" if multiple < 1e6 else f"{multiple:.2g}x"


def judge(
    envelope: ScenarioEnvelope,
    baseline: ScenarioRecord,
    candidate: ScenarioRecord,
    tensors: Sequence[TensorDiff],
    *,
    safety: float = SAFETY,
) -> EnvelopeJudgement:
    """The difference in multiples of the envelope, where it first leaves it.

    The first step at which some quantity exceeds ``safety`` times its envelope is named,
    with the worst multiple at that step (that is where the runs left rounding behind);
    then the final tensors. When nothing exceeds it, the largest multiple anywhere.
    """
    per_step = [
        _worst_at_step(envelope, b, c)
        for b, c in zip(baseline.steps, candidate.steps, strict=False)
    ]
    final = _worst_tensor(envelope, tensors)
    points = [*per_step, final]
    beyond = [p for p in points if p[0] > safety]
    multiple, step, quantity = beyond[0] if beyond else max(points, key=lambda p: p[0])
    verdict: Literal["within_tolerance", "drift"] = "drift" if beyond else "within_tolerance"
    return EnvelopeJudgement(multiple, step, quantity, verdict, safety)


_Point = tuple[float, "int | None", str]


def _worst_at_step(envelope: ScenarioEnvelope, b: StepRecord, c: StepRecord) -> _Point:
    worst: _Point = (0.0, b.step, "loss")
    qb = {**step_quantities(b), "lr": b.lr}
    qc = {**step_quantities(c), "lr": c.lr}
    for key, value in qb.items():
        if key in qc:
            multiple = _multiple(deviation(value, qc[key]), envelope.bound(b.step, key), value)
            if multiple > worst[0]:
                worst = (multiple, b.step, key)
    return worst


def _worst_tensor(envelope: ScenarioEnvelope, tensors: Sequence[TensorDiff]) -> _Point:
    worst: _Point = (0.0, None, "final tensors")
    for diff in tensors:
        if diff.status == "equal":
            continue
        key = diff.key.split("/", 1)[1] if "/" in diff.key else diff.key
        moved = diff.max_abs if diff.status in _NUMERIC and not diff.nan_mismatch else math.inf
        multiple = _multiple(moved, envelope.tensors.get(key, 0.0), 0.0)
        if multiple > worst[0]:
            worst = (multiple, None, key)
    return worst


def _multiple(moved: float, bound: float, value: float) -> float:
    if moved == 0:
        return 0.0
    floor = max(bound, _ulp(value))
    return moved / floor if floor > 0 else math.inf


def _ulp(value: float) -> float:
    """One unit in the last place of ``value`` in the precision it was computed in.

    The floor of the envelope: the calibration may happen never to move a quantity (a
    loss whose float32 value no reordering it tried changed), yet a difference in its
    last bit is still rounding. A value exactly representable in float32 is taken as
    float32 (losses and norms are), any other as float64.
    """
    if not math.isfinite(value) or value == 0:
        return 0.0
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    eps = _EPS32 if single == value else _EPS64
    return eps * 2.0 ** math.floor(math.log2(abs(value)))
