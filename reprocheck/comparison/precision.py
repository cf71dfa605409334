"""A precision change (autocast, a cast to a reduced dtype) as the first divergence.

Calls whose output dtypes differ never align by op, shapes and dtypes, so they land among
the one-sided calls. Here the one-sided calls of one group are paired by operator and
shapes alone: the first pair whose dtypes differ, or a one-sided cast producing a reduced
precision dtype before it, is the precision change.
"""

from __future__ import annotations

from collections.abc import Sequence

from reprocheck.comparison.evidence_record import Evidence
from reprocheck.comparison.result import FirstDivergence
from reprocheck.model.records import TraceEntry

__all__ = [
    "REDUCED_DTYPES",
    "at_precision",
    "earlier_change",
    "precision_change",
    "precision_detail",
]

REDUCED_DTYPES: frozenset[str] = frozenset({"bfloat16", "float16"})
_CASTS = ("aten._to_copy", "aten.to.", "aten._to_copy.", "aten.to")

Calls = Sequence[tuple[int, TraceEntry]]


def _is_cast(entry: TraceEntry) -> bool:
    return entry.op.startswith(_CASTS) and any(d in REDUCED_DTYPES for d in entry.dtypes)


Change = tuple[int, TraceEntry | None, TraceEntry | None]


def earlier_change(known: Change | None, b_calls: Calls, c_calls: Calls) -> Change | None:
    """The earlier of ``known`` and the precision change among these one-sided calls."""
    found = precision_change(b_calls, c_calls)
    if found is not None and (known is None or found[0] < known[0]):
        return found
    return known


def precision_change(
    b_calls: Calls, c_calls: Calls
) -> tuple[int, TraceEntry | None, TraceEntry | None] | None:
    """``(position, baseline call, candidate call)`` of the first precision change among
    one-sided calls, a side None for a one-sided cast; None when there is none."""
    for (pos, b_entry), (c_pos, c_entry) in _pairs(b_calls, c_calls):
        if b_entry is None and c_entry is not None and _is_cast(c_entry):
            return c_pos, None, c_entry
        if c_entry is None and b_entry is not None and _is_cast(b_entry):
            return pos, b_entry, None
        if b_entry is None or c_entry is None or b_entry.dtypes == c_entry.dtypes:
            continue
        if any(d in REDUCED_DTYPES for d in b_entry.dtypes + c_entry.dtypes):
            return pos, b_entry, c_entry
    return None


def _pairs(
    b_calls: Calls, c_calls: Calls
) -> list[tuple[tuple[int, TraceEntry | None], tuple[int, TraceEntry | None]]]:
    """Pair calls by op and shapes in order; unpaired calls pair with None."""
    out: list[tuple[tuple[int, TraceEntry | None], tuple[int, TraceEntry | None]]] = []
    rest = list(c_calls)
    for pos, b_entry in b_calls:
        match = next(
            (
                i
                for i, (_, c) in enumerate(rest)
                if (c.op, c.shapes) == (b_entry.op, b_entry.shapes)
            ),
            None,
        )
        if match is None:
            out.append(((pos, b_entry), (pos, None)))
            continue
        for c_pos, c in rest[:match]:
            out.append(((c_pos, None), (c_pos, c)))
        out.append(((pos, b_entry), rest[match]))
        rest = rest[match + 1 :]
    out.extend(((c_pos, None), (c_pos, c)) for c_pos, c in rest)
    return out


def precision_detail(b_entry: TraceEntry | None, c_entry: TraceEntry | None) -> str:
    """``precision change: float32 → bfloat16 in fc1 (aten.addmm)``."""
    entry = c_entry if c_entry is not None else b_entry
    if entry is None:
        raise ValueError("a precision change needs a call on at least one side")
    before = b_entry.dtypes[0] if b_entry is not None and b_entry.dtypes else "float32"
    after = c_entry.dtypes[0] if c_entry is not None and c_entry.dtypes else "float32"
    if b_entry is None or c_entry is None:
        # a one-sided cast: the dtype it casts to against the side without it
        cast = entry.dtypes[0] if entry.dtypes else "?"
        before, after = ("float32", cast) if b_entry is None else (cast, "float32")
    name = entry.op.rsplit(".", 1)[0] if entry.op.count(".") >= 2 else entry.op
    return f"precision change: {before} → {after} in {entry.module or 'model'} ({name})"


def at_precision(found: tuple[int, TraceEntry | None, TraceEntry | None]) -> FirstDivergence:
    """The first divergence at a precision change: kind ``computation``, both dtypes named."""
    _, b_entry, c_entry = found
    entry = c_entry if c_entry is not None else b_entry
    if entry is None:
        raise ValueError("a precision change needs a call on at least one side")
    detail = precision_detail(b_entry, c_entry)
    return FirstDivergence(
        step=entry.step,
        phase=entry.phase,
        location=entry.module or entry.op,
        operator=entry.op,
        parameter=None,
        kind="computation",
        detail=detail,
        evidence=Evidence(
            f"{detail}: reduced precision is a computation change",
            "dtypes",
            dtypes={
                "baseline": list(b_entry.in_dtypes or b_entry.dtypes) if b_entry else [],
                "candidate": list(c_entry.in_dtypes or c_entry.dtypes) if c_entry else [],
            },
        ),
    )
