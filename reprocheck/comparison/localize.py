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
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from reprocheck.comparison.classify import (
    entry_rel_diff,
    first_float_dtype,
    op_base_name,
    op_kind,
    record_kind,
    rounding_threshold,
)
from reprocheck.comparison.precision import at_precision, earlier_change
from reprocheck.comparison.result import FirstDivergence, GrowthPoint, Kind, Structural
from reprocheck.model.records import ScenarioRecord, StepRecord, TraceEntry

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

PHASE_ORDER: Mapping[str, int] = {
    "init": 0,
    "forward": 1,
    "backward": 2,
    "optimizer": 3,
    "final": 4,
}
_EXAMPLES = 5


def same_float(a: float, b: float) -> bool:
    """Bitwise-equal floats as recorded (NaN equals NaN; 0.0 and -0.0 differ)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@dataclasses.dataclass(frozen=True, slots=True)
class OpDivergence:
    """The first aligned traced call whose output differs."""

    baseline: TraceEntry
    candidate: TraceEntry

    @property
    def position(self) -> tuple[int, int]:
        return self.baseline.step, PHASE_ORDER.get(self.baseline.phase, 1)


@dataclasses.dataclass(frozen=True, slots=True)
class TraceAlignment:
    """The result of aligning two traces (``precision``: see comparison.precision)."""

    first: OpDivergence | None
    structural: Structural
    aligned: int
    precision: tuple[int, TraceEntry | None, TraceEntry | None] | None = None


def _group(
    entries: Sequence[TraceEntry], steps: set[int]
) -> dict[tuple[int, str, str], list[tuple[int, TraceEntry]]]:
    groups: dict[tuple[int, str, str], list[tuple[int, TraceEntry]]] = {}
    for position, entry in enumerate(entries):
        if entry.step in steps:
            groups.setdefault((entry.step, entry.phase, entry.module), []).append((position, entry))
    return groups


def _example(sign: str, entry: TraceEntry) -> str:
    return f"{sign}{entry.op} @ step {entry.step} {entry.phase} {entry.module}"


Calls = list[tuple[int, TraceEntry]]


def _align_group(b_calls: Calls, c_calls: Calls) -> list[tuple[Calls, Calls, bool]]:
    """Split one group into runs of aligned calls (``True``) and one-sided calls (``False``).

    Calls with the same operator *and* output digest anchor the alignment first, so an
    inserted call of a repeated operator cannot shift its neighbours onto each other; the
    stretches between anchors are then aligned by operator name and output shapes and
    dtypes: a call on a tensor of another shape is another call (torch 2.6 emits extra
    ``detach`` calls in optimizers, which must not pair with the next ``detach`` of a
    different parameter and read as a numeric difference).
    """
    out: list[tuple[Calls, Calls, bool]] = []
    exact = difflib.SequenceMatcher(
        None,
        [(e.op, e.digest) for _, e in b_calls],
        [(e.op, e.digest) for _, e in c_calls],
        autojunk=False,
    )
    for tag, i1, i2, j1, j2 in exact.get_opcodes():
        if tag == "equal":
            out.append((b_calls[i1:i2], c_calls[j1:j2], True))
            continue
        b_part, c_part = b_calls[i1:i2], c_calls[j1:j2]
        by_name = difflib.SequenceMatcher(
            None,
            [(e.op, e.shapes, e.dtypes) for _, e in b_part],
            [(e.op, e.shapes, e.dtypes) for _, e in c_part],
            autojunk=False,
        )
        for tag2, k1, k2, l1, l2 in by_name.get_opcodes():
            out.append((b_part[k1:k2], c_part[l1:l2], tag2 == "equal"))
    return out


def align_traces(baseline: Sequence[TraceEntry], candidate: Sequence[TraceEntry]) -> TraceAlignment:
    """Align two op traces and find the first aligned call whose output differs.

    Only steps traced on both sides are compared (one side may have traced more steps).
    """
    steps = {e.step for e in baseline} & {e.step for e in candidate}
    b_groups = _group(baseline, steps)
    c_groups = _group(candidate, steps)
    b_only: list[tuple[int, TraceEntry]] = []
    c_only: list[tuple[int, TraceEntry]] = []
    first: tuple[int, OpDivergence] | None = None
    precision: tuple[int, TraceEntry | None, TraceEntry | None] | None = None
    aligned = 0
    for key in list(b_groups) + [k for k in c_groups if k not in b_groups]:
        for b_calls, c_calls, same in _align_group(b_groups.get(key, []), c_groups.get(key, [])):
            if not same:
                precision = earlier_change(precision, b_calls, c_calls)
                b_only.extend(b_calls)
                c_only.extend(c_calls)
                continue
            for (pos, b_entry), (_, c_entry) in zip(b_calls, c_calls, strict=True):
                aligned += 1
                if b_entry.digest != c_entry.digest and (first is None or pos < first[0]):
                    first = (pos, OpDivergence(b_entry, c_entry))
    b_only.sort(key=lambda item: item[0])
    c_only.sort(key=lambda item: item[0])
    examples = [_example("-", e) for _, e in b_only[:_EXAMPLES]]
    examples += [_example("+", e) for _, e in c_only[: max(0, _EXAMPLES - len(examples))]]
    structural = Structural(len(b_only), len(c_only), tuple(examples))
    return TraceAlignment(first[1] if first else None, structural, aligned, precision)


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
    return op.position <= where


def _at_operator(
    op: OpDivergence, baseline: ScenarioRecord, candidate: ScenarioRecord
) -> FirstDivergence:
    """The first divergence at the first traced operator whose output differs."""
    entry = op.baseline
    dtype = first_float_dtype(entry.dtypes)
    rel = entry_rel_diff(op.baseline, op.candidate)
    parameter = first_parameter(baseline, candidate, entry.step, entry.phase)
    return FirstDivergence(
        step=entry.step,
        phase=entry.phase,
        location=entry.module or parameter or entry.op,
        operator=entry.op,
        parameter=parameter,
        kind=op_kind(rel, entry.op, dtype),
        detail=_rel_detail(rel, f"{op_base_name(entry.op)} output"),
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
    return FirstDivergence(
        step=record.step,
        phase=record.phase,
        location=record.location,
        operator=None,
        parameter=record.parameter
        or first_parameter(baseline, candidate, record.step, record.phase),
        kind=record_kind(record.location, record.phase, step_rel, baseline.config.dtype),
        detail=None if record.phase == "init" else _rel_detail(step_rel, "step"),
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
        detail=f"largest ULP distance {changed_tensors[0].ulp_max}",
    )
