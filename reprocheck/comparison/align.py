"""Align two op traces and find the first aligned call where they part.

Across torch versions the operator sequence changes (other decompositions, fused kernels),
so traces are aligned per ``(step, phase, module)``: equal op and digest anchor, the rest
align by op, output shapes and dtypes; one-sided calls are structural; a precision change
among them is kept for comparison.precision.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence

from reprocheck.comparison.evidence import parts_here
from reprocheck.comparison.precision import earlier_change
from reprocheck.comparison.result import Structural
from reprocheck.model.records import TraceEntry, trace_documents

__all__ = ["PHASE_ORDER", "OpDivergence", "TraceAlignment", "align_traces"]

PHASE_ORDER: Mapping[str, int] = {
    "init": 0,
    "forward": 1,
    "backward": 2,
    "optimizer": 3,
    "final": 4,
}
_EXAMPLES = 5


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
    passed_on: OpDivergence | None = None


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

    Where both sides made the same calls (operators, output shapes and dtypes, in the same
    order: the same torch with other threads or another dispatch level), call i pairs with
    call i; matching digests across positions could only misalign them, and the matcher
    costs seconds on a large model's groups whose every digest differs.
    """
    if len(b_calls) == len(c_calls) and all(
        (b.op, b.shapes, b.dtypes) == (c.op, c.shapes, c.dtypes)
        for (_, b), (_, c) in zip(b_calls, c_calls, strict=True)
    ):
        return [(b_calls, c_calls, True)]
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


#: What makes two calls the same call; calls equal in these at every position pair in place.
_CALL_KEYS = ("step", "phase", "module", "op", "shapes", "dtypes")
_ABSENT = object()


def _aligned_in_place(
    baseline: Sequence[TraceEntry], candidate: Sequence[TraceEntry]
) -> TraceAlignment | None:
    """Traces of the same calls in the same order (same torch, other threads or dispatch
    level), read from their records: call i pairs with call i, as :func:`_align_group`
    pairs them, and only calls whose documents differ are read, until the first
    parting and the first passed-on difference are found. None where any call differs
    in what it is (then the whole alignment, which reads every entry)."""
    documents = trace_documents(baseline, candidate)
    if documents is None:
        return None
    b_trace, c_trace = documents
    b_raw, c_raw = b_trace.document(), c_trace.document()
    if len(b_raw) != len(c_raw):
        return None
    first: OpDivergence | None = None
    passed: OpDivergence | None = None
    for i, (b_doc, c_doc) in enumerate(zip(b_raw, c_raw, strict=True)):
        if b_doc == c_doc:
            continue
        if type(b_doc) is not dict or type(c_doc) is not dict:
            return None
        if any(b_doc.get(k, _ABSENT) != c_doc.get(k, _ABSENT) for k in _CALL_KEYS):
            return None
        if first is None or passed is None:
            b_entry, c_entry = b_trace.entry(i), c_trace.entry(i)
            if passed is None and b_entry.digest != c_entry.digest:
                passed = OpDivergence(b_entry, c_entry)
            if first is None and parts_here(b_entry, c_entry):
                first = OpDivergence(b_entry, c_entry)
    return TraceAlignment(first, Structural(0, 0, ()), len(b_raw), None, passed)


def align_traces(baseline: Sequence[TraceEntry], candidate: Sequence[TraceEntry]) -> TraceAlignment:
    """Align two op traces and find the first aligned call where they part.

    ``first`` is the first whose arguments differ or whose equal inputs gave another
    output (comparison.evidence); ``passed_on`` the first whose output differs at all.
    Only steps traced on both sides are compared (one side may have traced more steps).
    Traces read from records whose calls match in place are read only where they part
    (equal documents: not at all).
    """
    in_place = _aligned_in_place(baseline, candidate)
    if in_place is not None:
        return in_place
    steps = {e.step for e in baseline} & {e.step for e in candidate}
    b_groups = _group(baseline, steps)
    c_groups = _group(candidate, steps)
    b_only: list[tuple[int, TraceEntry]] = []
    c_only: list[tuple[int, TraceEntry]] = []
    first: tuple[int, OpDivergence] | None = None
    passed: tuple[int, OpDivergence] | None = None
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
                if b_entry.digest != c_entry.digest and (passed is None or pos < passed[0]):
                    passed = (pos, OpDivergence(b_entry, c_entry))
                if parts_here(b_entry, c_entry) and (first is None or pos < first[0]):
                    first = (pos, OpDivergence(b_entry, c_entry))
    b_only.sort(key=lambda item: item[0])
    c_only.sort(key=lambda item: item[0])
    examples = [_example("-", e) for _, e in b_only[:_EXAMPLES]]
    examples += [_example("+", e) for _, e in c_only[: max(0, _EXAMPLES - len(examples))]]
    structural = Structural(len(b_only), len(c_only), tuple(examples))
    return TraceAlignment(
        first[1] if first else None,
        structural,
        aligned,
        precision,
        passed[1] if passed else None,
    )
