"""Where two runs of one scenario first part: step, phase, operator, module, parameter.

Two sources, finest first:

* The op trace of the first steps, aligned per ``(step, phase, module)`` (the sequence
  changes across torch versions): equal op and digest anchor, the rest align by op, output
  shapes and dtypes; one-sided calls are structural, the first aligned call whose digest
  differs is the first differing operator; a precision change (comparison.precision) wins.
* The per-step records: init digests (step 0, ``init``), then per step the batch, loss,
  metrics and buffers (``forward``: batch-norm statistics move in the forward pass),
  gradients (``backward``), learning rates and parameters (``optimizer``).

The earlier of the two wins; the trace names the operator and its module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from reprocheck.comparison.align import PHASE_ORDER, OpDivergence, TraceAlignment, align_traces
from reprocheck.comparison.classify import (
    entry_rel_diff,
    op_base_name,
    record_kind,
    rounding_threshold,
)
from reprocheck.comparison.evidence import op_evidence
from reprocheck.comparison.precision import at_precision
from reprocheck.comparison.record_evidence import record_evidence
from reprocheck.comparison.result import FirstDivergence, GrowthPoint, Kind
from reprocheck.model.records import ScenarioRecord, StepRecord

if TYPE_CHECKING:
    from reprocheck.comparison.numerics import TensorDiff

__all__ = [
    "PHASE_ORDER",
    "OpDivergence",
    "RecordDivergence",
    "TraceAlignment",
    "align_traces",
    "first_parameter",
    "locate",
    "record_divergence",
    "same_float",
]


def same_float(a: float, b: float) -> bool:
    """Bitwise-equal floats as recorded (NaN equals NaN; 0.0 and -0.0 differ)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@dataclasses.dataclass(frozen=True, slots=True)
class RecordDivergence:
    """The first difference in the per-step records."""

    step: int
    phase: str
    location: str
    parameter: str | None = None


def _first_key_diff(b: Mapping[str, str], c: Mapping[str, str]) -> str | None:
    for key in list(b) + [k for k in c if k not in b]:
        if b.get(key) != c.get(key):
            return key
    return None


def _first_float_diff(b: Mapping[str, float], c: Mapping[str, float]) -> str | None:
    for key in list(b) + [k for k in c if k not in b]:
        if key not in b or key not in c or not same_float(b[key], c[key]):
            return key
    return None


def _step_divergence(b: StepRecord, c: StepRecord) -> RecordDivergence | None:
    """The first difference within one step, checked in the order the step runs."""
    s = b.step
    # (phase, what differs, parameter) for each check, lazily, in execution order.
    checks: list[tuple[str, Callable[[], str | None], bool]] = [
        ("forward", lambda: "batch" if b.batch_digest != c.batch_digest else None, False),
        ("forward", lambda: None if same_float(b.loss, c.loss) else "loss", False),
        ("forward", lambda: _prefixed("metrics/", _first_float_diff(b.metrics, c.metrics)), False),
        ("forward", lambda: _buffer_diff(b, c), False),
        ("backward", lambda: _first_key_diff(b.grad_digests, c.grad_digests), True),
        ("backward", lambda: None if same_float(b.grad_norm, c.grad_norm) else "grad_norm", False),
        ("optimizer", lambda: None if same_float(b.lr, c.lr) else "lr", False),
        ("optimizer", lambda: _lrs_diff(b.lrs, c.lrs), False),
        ("optimizer", lambda: _first_key_diff(b.param_digests, c.param_digests), True),
        (
            "optimizer",
            lambda: None if same_float(b.param_norm, c.param_norm) else "param_norm",
            False,
        ),
        ("optimizer", lambda: _first_float_diff(b.param_norms, c.param_norms), True),
    ]
    for phase, check, is_parameter in checks:
        found = check()
        if found is not None:
            return RecordDivergence(s, phase, found, found if is_parameter else None)
    return None


def _buffer_diff(b: StepRecord, c: StepRecord) -> str | None:
    """``buffer/<name>`` of the first buffer whose digest differs (buffers such as batch-norm
    running statistics change in the forward pass); runs from before buffers were recorded
    per step hold none, and are not compared here."""
    if not b.buffer_digests or not c.buffer_digests:
        return None
    return _prefixed("buffer/", _first_key_diff(b.buffer_digests, c.buffer_digests))


def _lrs_diff(b: Sequence[float], c: Sequence[float]) -> str | None:
    """``lrs[i]`` of the first param group whose learning rate differs (both recorded)."""
    if not b or not c:
        return None
    if len(b) != len(c):
        return "lrs"
    pairs = enumerate(zip(b, c, strict=True))
    return next((f"lrs[{i}]" for i, (x, y) in pairs if not same_float(x, y)), None)


def _prefixed(prefix: str, value: str | None) -> str | None:
    return None if value is None else prefix + value


def record_divergence(
    baseline: ScenarioRecord, candidate: ScenarioRecord
) -> RecordDivergence | None:
    """The first step and phase at which the per-step records differ, or None."""
    init = _first_key_diff(baseline.init_digests, candidate.init_digests)
    if init is not None:
        return RecordDivergence(0, "init", init, init)
    for b, c in zip(baseline.steps, candidate.steps, strict=False):
        found = _step_divergence(b, c)
        if found is not None:
            return found
    return None


def first_parameter(
    baseline: ScenarioRecord, candidate: ScenarioRecord, step: int, phase: str
) -> str | None:
    """The first parameter whose digest differs, at ``step`` or the earliest later step."""
    if phase == "init":
        found = _first_key_diff(baseline.init_digests, candidate.init_digests)
        if found is not None:
            return found
    for b, c in zip(baseline.steps, candidate.steps, strict=False):
        if b.step < step:
            continue
        found = _first_key_diff(b.grad_digests, c.grad_digests) or _first_key_diff(
            b.param_digests, c.param_digests
        )
        if found is not None:
            return found
    return None


def _rel_detail(rel: float, what: str) -> str:
    if rel == 0:
        return f"{what}: summaries agree, digests differ (rounding-level)"
    return f"{what}: relative difference {rel:.3g}"


def locate(
    *,
    baseline: ScenarioRecord,
    candidate: ScenarioRecord,
    alignment: TraceAlignment,
    record: RecordDivergence | None,
    growth: Sequence[GrowthPoint],
    changed_tensors: Sequence[TensorDiff],
) -> FirstDivergence | None:
    """The first divergence of one scenario, with its kind; None when nothing differs.

    The first differing traced operator wins when it comes no later than the first
    difference in the records — except a different batch in the same step, which comes
    before every operator of that step (the batch is built outside the traced step, and
    every operator that reads it differs because of it); else the records name the place;
    else (only the saved final tensors differ) the worst final tensor, at the last step,
    phase ``final``.
    """
    if alignment.precision is not None:
        return at_precision(alignment.precision)
    op = alignment.first
    if op is None and record is None:
        op = alignment.passed_on  # only differences passed on: the first of them
    if op is not None and (record is None or _operator_first(op, record)):
        return _at_operator(op, baseline, candidate)
    if record is not None:
        return _at_record(record, baseline, candidate, growth)
    if not changed_tensors:
        return None
    return _at_final_tensors(baseline, changed_tensors)


def _operator_first(op: OpDivergence, record: RecordDivergence) -> bool:
    where = (record.step, PHASE_ORDER[record.phase])
    if record.location == "batch":
        return op.position < where
    if record.location.startswith("lr") and record.step == op.baseline.step:
        return False  # the learning rate is set before the optimizer's operators use it
    return op.position <= where


def _at_operator(
    op: OpDivergence, baseline: ScenarioRecord, candidate: ScenarioRecord
) -> FirstDivergence:
    """The first divergence at the first traced operator where the runs part."""
    entry = op.baseline
    rel = entry_rel_diff(op.baseline, op.candidate)
    parameter = first_parameter(baseline, candidate, entry.step, entry.phase)
    kind, evidence = op_evidence(op.baseline, op.candidate)
    return FirstDivergence(
        step=entry.step,
        phase=entry.phase,
        location=entry.module or parameter or entry.op,
        operator=entry.op,
        parameter=parameter,
        kind=kind,
        detail=_rel_detail(rel, f"{op_base_name(entry.op)} output"),
        evidence=evidence,
    )


def _at_record(
    record: RecordDivergence,
    baseline: ScenarioRecord,
    candidate: ScenarioRecord,
    growth: Sequence[GrowthPoint],
) -> FirstDivergence:
    """The first divergence at the first per-step record that differs."""
    step_rel = next((g.max_rel for g in growth if g.step == record.step), 0.0)
    if record.location.startswith("buffer/"):
        step_rel = max(step_rel, _buffer_rel(baseline, candidate, record.step))
    kind = record_kind(record.location, record.phase, step_rel, baseline.config.dtype)
    return FirstDivergence(
        step=record.step,
        phase=record.phase,
        location=record.location,
        operator=None,
        parameter=record.parameter
        or first_parameter(baseline, candidate, record.step, record.phase),
        kind=kind,
        detail=None if record.phase == "init" else _rel_detail(step_rel, "step"),
        evidence=record_evidence(record.location, record.step, kind, baseline, candidate),
    )


def _buffer_rel(baseline: ScenarioRecord, candidate: ScenarioRecord, step: int) -> float:
    """The largest relative difference of the buffers' norms at ``step``."""
    worst = 0.0
    for b, c in zip(baseline.steps, candidate.steps, strict=False):
        if b.step != step:
            continue
        for key, x in b.buffer_norms.items():
            y = c.buffer_norms.get(key)
            if y is None or same_float(x, y):
                continue
            scale = max(abs(x), abs(y))
            finite = math.isfinite(scale) and scale > 0
            worst = max(worst, abs(x - y) / scale if finite else math.inf)
    return worst


def _at_final_tensors(
    baseline: ScenarioRecord, changed_tensors: Sequence[TensorDiff]
) -> FirstDivergence:
    """Only the saved final tensors differ: the worst of them, at the last step."""
    threshold = rounding_threshold(baseline.config.dtype)
    big = any(
        d.status not in ("within_tolerance", "exceeds_tolerance") or d.max_rel > threshold
        for d in changed_tensors
    )
    kind: Kind = "computation" if big else "rounding"
    key = changed_tensors[0].key.removeprefix(f"{baseline.name}/")
    return FirstDivergence(
        step=max(0, baseline.config.steps - 1),
        phase="final",
        location=key,
        parameter=key.removeprefix("param/") if key.startswith("param/") else None,
        kind=kind,
        detail=_final_detail(changed_tensors[0]),
    )


def _final_detail(worst: TensorDiff) -> str:
    if worst.nan_mismatch:  # a NaN has no distance to a number
        return f"{worst.nan_mismatch} element(s) NaN on one side only"
    return f"largest ULP distance {worst.ulp_max}"
