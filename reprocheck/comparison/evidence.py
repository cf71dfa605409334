"""The kind of a first divergence, from evidence rather than from the size of a difference.

The trace keeps, per call, its non-tensor arguments and a digest of its tensor inputs
(:mod:`reprocheck.replay.trace_args`), so the first aligned call where two runs part is
the first whose arguments differ, or whose equal inputs gave another output
(:func:`parts_here`). Its kind then follows from what differs (:func:`op_evidence`):

* arguments → ``computation``, naming them (``eps 1e-05 → 1e-06``);
* input dtypes → ``computation`` (a precision change), naming both;
* a random operator, same arguments and inputs, another draw → ``random-stream``;
* same arguments, same inputs, other output: the kernel changed. With each side's distance
  to a float64 reference of the same call (``reprocheck check`` recomputes it, having the
  inputs at hand): both within rounding of it → ``rounding``, else ``computation`` naming
  the side closer to exact. Without one (compare of two stored runs), the size rule of
  :mod:`reprocheck.comparison.classify` decides, and the evidence says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reprocheck.comparison.classify import (
    entry_rel_diff,
    first_float_dtype,
    is_random_op,
    op_base_name,
    op_kind,
    rounding_threshold,
)
from reprocheck.comparison.evidence_record import Evidence
from reprocheck.comparison.result import Kind
from reprocheck.model.records import TraceEntry

__all__ = [
    "args_differ",
    "judged_by_reference",
    "op_evidence",
    "parts_here",
    "reference_tolerance",
    "show_value",
    "where_text",
]

# Relative distance (to the output's largest magnitude) within which an output counts as
# "within rounding" of its float64 reference: a few hundred units in the last place of
# float32 leave room for any summation order; wider for the 8- and 11-bit mantissas.
_REFERENCE_TOL = {"float64": 1e-10, "float32": 1e-4, "float16": 1e-2, "bfloat16": 3e-2}


def reference_tolerance(dtype: str | None) -> float:
    """The relative distance to a float64 reference that rounding alone can explain."""
    return _REFERENCE_TOL.get((dtype or "float32").removeprefix("torch."), 1e-4)


def parts_here(b: TraceEntry, c: TraceEntry) -> bool:
    """Whether two aligned calls are where the runs part (not just passing a difference on).

    Runs from before the trace kept arguments have neither, and part at the first call
    whose output differs, as before.
    """
    if args_differ(b, c) or b.in_dtypes != c.in_dtypes:
        return True
    return b.inputs == c.inputs and b.digest != c.digest


def args_differ(b: TraceEntry, c: TraceEntry) -> bool:
    """Whether an argument both calls pass has another value (an argument one torch
    version's schema has and the other's lacks is no change of value)."""
    return any(key in c.args and value != c.args[key] for key, value in b.args.items())


def show_value(value: Any) -> str:
    """``1e-05``, ``'tanh'``, ``[16]``: an argument's value as a reader expects it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def where_text(entry: TraceEntry) -> str:
    """``in blocks.0.ln1 (aten.native_layer_norm)``."""
    op = entry.op.removesuffix(".default")
    return f"in {entry.module or 'the model'} ({op})"


def _changed(b: Mapping[str, Any], c: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [v, c[k]] for k, v in b.items() if k in c and v != c[k]}


def _dropout_text(entry: TraceEntry, changed: dict[str, list[Any]]) -> str | None:
    """A dropout traced as ``bernoulli_(p = 1 - p)``: told as the dropout's own ``p``."""
    module = entry.module.rsplit(".", 1)[-1].lower()
    if op_base_name(entry.op) != "bernoulli" or "p" not in changed or "drop" not in module:
        return None
    old, new = changed["p"]
    if not isinstance(old, float) or not isinstance(new, float):
        return None
    return (
        f"dropout p {show_value(1 - old)} → {show_value(1 - new)} {where_text(entry)}, "
        f"drawn with keep probability {show_value(old)} → {show_value(new)}"
    )


def _arguments(b: TraceEntry, c: TraceEntry) -> tuple[Kind, Evidence]:
    changed = _changed(b.args, c.args)
    text = _dropout_text(b, changed) or (
        ", ".join(f"{k} {show_value(v[0])} → {show_value(v[1])}" for k, v in changed.items())
        + f" {where_text(b)}"
    )
    text += ": a changed argument is a computation change"
    return "computation", Evidence(text, "arguments", changed_arguments=changed)


def _input_dtypes(b: TraceEntry, c: TraceEntry) -> tuple[Kind, Evidence]:
    before = ",".join(b.in_dtypes) or "(none)"
    after = ",".join(c.in_dtypes) or "(none)"
    what = "precision change" if set(b.in_dtypes) != set(c.in_dtypes) else "another call"
    text = f"{what}: tensor inputs {before} → {after} {where_text(b)}"
    dtypes = {"baseline": list(b.in_dtypes), "candidate": list(c.in_dtypes)}
    return "computation", Evidence(text, "dtypes", dtypes=dtypes)


def judged_by_reference(b: TraceEntry, distance: Mapping[str, float]) -> tuple[Kind, Evidence]:
    """Equal inputs, other output, and each side's distance to a float64 reference."""
    dtype = first_float_dtype(b.dtypes)
    tol = reference_tolerance(dtype)
    db, dc = distance["baseline"], distance["candidate"]
    shown = f"baseline {db:.2g}, candidate {dc:.2g} relative to a float64 reference"
    if db <= tol and dc <= tol:
        text = (
            f"same arguments and inputs, other output {where_text(b)}: both sides within "
            f"rounding of the exact result ({shown}; rounding allows {tol:.0e})"
        )
        return "rounding", Evidence(text, "float64-reference", distance_to_float64=dict(distance))
    closer = "baseline" if db < dc or (math.isnan(dc) and not math.isnan(db)) else "candidate"
    text = (
        f"same arguments and inputs, other output {where_text(b)}: the kernel computes "
        f"something else ({shown}; the {closer} is closer to exact)"
    )
    return "computation", Evidence(text, "float64-reference", distance_to_float64=dict(distance))


def _random(b: TraceEntry, c: TraceEntry) -> tuple[Kind, Evidence]:
    """A random operator, same arguments and inputs: another draw, or the same one rounded
    differently (its transform's kernel changed; no float64 reference exists for a draw)."""
    dtype = first_float_dtype(b.dtypes)
    rel = entry_rel_diff(b, c)
    if dtype is not None and rel <= rounding_threshold(dtype):
        text = (
            f"same arguments and inputs {where_text(b)}, the same draw rounded differently "
            f"(relative difference {rel:.2g}): the random operator's kernel changed, not the "
            "stream (a random draw has no float64 reference)"
        )
        return "rounding", Evidence(text, "random-draw")
    text = f"same arguments and inputs {where_text(b)}, another random draw"
    return "random-stream", Evidence(text, "random-draw")


def _by_size(b: TraceEntry, c: TraceEntry) -> tuple[Kind, Evidence]:
    dtype = first_float_dtype(b.dtypes)
    rel = entry_rel_diff(b, c)
    kind = op_kind(rel, b.op, dtype)
    text = (
        f"same arguments and inputs, other output {where_text(b)} (relative difference "
        f"{rel:.3g}); no float64 reference without the inputs at hand (`reprocheck check` "
        f"recomputes one), so judged by size: {kind} (threshold "
        f"{rounding_threshold(dtype):.0e})"
    )
    return kind, Evidence(text, "size")


def op_evidence(
    b: TraceEntry, c: TraceEntry, distance: Mapping[str, float] | None = None
) -> tuple[Kind, Evidence]:
    """The kind of the first differing call ``b``/``c`` and the evidence for it."""
    if args_differ(b, c):
        return _arguments(b, c)
    if b.in_dtypes != c.in_dtypes:
        return _input_dtypes(b, c)
    if b.inputs != c.inputs:  # only for the fallback: a difference passed on from upstream
        kind, evidence = _by_size(b, c)
        text = f"inputs differ {where_text(b)} (made upstream of the trace); " + evidence.text
        return kind, Evidence(text, "passed-on")
    if is_random_op(b.op):
        return _random(b, c)
    if distance is not None:
        return judged_by_reference(b, distance)
    return _by_size(b, c)
