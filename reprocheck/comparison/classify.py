"""Tell the three kinds of difference apart: rounding, a changed random stream, computation.

* ``rounding``: the first values to differ are a few units in the last place apart; the
  difference comes from a changed order of floating-point operations (threads, a BLAS
  blocking, a fused kernel) and stays bounded.
* ``random-stream``: a random operator (dropout, bernoulli, randint, randperm, multinomial,
  the normal/uniform initialisers ...) is the first to differ, by far more than rounding:
  it drew other numbers, so everything downstream differs at full size.
* ``computation``: a deterministic operator differs far beyond rounding at its first
  appearance: another algorithm, a changed default, a bug.

"Far beyond rounding" is a relative difference above :func:`rounding_threshold` (1e-3 for
float32 and float64, wider for bfloat16 and float16).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from reprocheck.comparison.result import GrowthPoint, Kind
from reprocheck.model.random_ops import RANDOM_OPS
from reprocheck.model.records import ScenarioRecord, TraceEntry

__all__ = [
    "RANDOM_OPS",
    "entry_rel_diff",
    "first_float_dtype",
    "growth_of",
    "is_random_op",
    "op_base_name",
    "op_kind",
    "rounding_threshold",
    "trend_of",
]

_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
_OVERLOAD = re.compile(r"\.(default|[A-Za-z_][A-Za-z0-9_]*)$")


def op_base_name(op: str) -> str:
    """``aten.native_dropout.default`` → ``native_dropout``; ``aten::uniform_`` → ``uniform``."""
    name = op.replace("::", ".")
    for prefix in ("torch.ops.", "aten.", "prims.", "_ops."):
        name = name.removeprefix(prefix)
    if "." in name:
        name = name.split(".", 1)[0]
    return name.rstrip("_") or name


def is_random_op(op: str) -> bool:
    """Whether ``op`` draws from a random generator."""
    return op_base_name(op) in RANDOM_OPS


def rounding_threshold(dtype: str | None) -> float:
    """Relative difference above which two values differ "far beyond rounding"."""
    key = (dtype or "float32").removeprefix("torch.")
    eps = _EPS.get(key, _EPS["float32"])
    return max(1e-3, 64.0 * eps)


def _rel(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:
        return 0.0
    scale = max(abs(a), abs(b))
    if math.isinf(scale):
        return math.inf
    return abs(a - b) / scale


def entry_rel_diff(baseline: TraceEntry, candidate: TraceEntry) -> float:
    """How far apart two traced outputs are, relative to their size.

    Uses the recorded summaries (no activations are stored): the strided sample is
    compared element by element against the larger ``absmax``, and the mean and absmax
    themselves. ``inf`` when shapes or dtypes differ, or the sample cannot be compared;
    ``0.0`` when the summaries agree (the outputs differ elsewhere, by rounding).
    """
    if baseline.shapes != candidate.shapes or baseline.dtypes != candidate.dtypes:
        return math.inf
    if baseline.absmax is None or candidate.absmax is None:
        # Not a floating output (indices, masks): any difference is a different result.
        return 0.0 if baseline.digest == candidate.digest else math.inf
    scale = max(abs(baseline.absmax), abs(candidate.absmax))
    worst = _rel(baseline.absmax, candidate.absmax)
    if baseline.mean is not None and candidate.mean is not None and scale > 0:
        if math.isfinite(scale):
            worst = max(worst, abs(baseline.mean - candidate.mean) / scale)
        else:
            worst = max(worst, _rel(baseline.mean, candidate.mean))
    if len(baseline.sample) != len(candidate.sample):
        return math.inf
    for a, b in zip(baseline.sample, candidate.sample, strict=True):
        if math.isfinite(scale) and scale > 0 and math.isfinite(a) and math.isfinite(b):
            worst = max(worst, abs(a - b) / scale)
        else:
            worst = max(worst, _rel(a, b))
    return worst


def first_float_dtype(dtypes: Sequence[str]) -> str | None:
    """The first floating dtype among an op's outputs (the one its summary describes)."""
    for d in dtypes:
        if "float" in d:
            return d.removeprefix("torch.")
    return None


def growth_of(b: ScenarioRecord, c: ScenarioRecord) -> tuple[GrowthPoint, ...]:
    """The largest relative difference per step over loss, norms and per-parameter norms."""
    points = []
    for sb, sc in zip(b.steps, c.steps, strict=False):
        pairs = [
            ("loss", sb.loss, sc.loss),
            ("grad_norm", sb.grad_norm, sc.grad_norm),
            ("param_norm", sb.param_norm, sc.param_norm),
        ]
        pairs += [
            (f"param_norms/{k}", v, sc.param_norms[k])
            for k, v in sb.param_norms.items()
            if k in sc.param_norms
        ]
        worst, where = 0.0, None
        for label, x, y in pairs:
            r = _rel(x, y)
            if r > worst:
                worst, where = r, label
        points.append(GrowthPoint(sb.step, worst, where))
    return tuple(points)


def trend_of(growth: tuple[GrowthPoint, ...]) -> str:
    """``none`` (all equal), ``bounded``, ``growing`` (x10 or more) or ``exploding``."""
    values = [g.max_rel for g in growth]
    nonzero = [v for v in values if v != 0]
    if not nonzero:
        return "none"
    if any(not math.isfinite(v) for v in nonzero):
        return "exploding"
    first, last = nonzero[0], values[-1]
    if last > 0.1 and last / first >= 1e3:
        return "exploding"
    if last / first >= 10:
        return "growing"
    return "bounded"


def op_kind(rel: float, op: str, dtype: str | None) -> Kind:
    """The kind of difference of the first differing operator.

    Args:
        rel: its relative difference (:func:`entry_rel_diff`).
        op: its name, e.g. ``aten.native_dropout.default``.
        dtype: the dtype of its first floating output, None if it has none.
    """
    big = rel > rounding_threshold(dtype)
    if is_random_op(op):
        # Discrete random outputs (masks, indices) cannot round: any change is a new draw.
        return "random-stream" if big or dtype is None else "rounding"
    return "computation" if big else "rounding"


def record_kind(location: str, phase: str, step_rel: float, dtype: str | None) -> Kind:
    """The kind of difference when no traced operator explains it (untraced steps).

    A changed batch is a changed data stream (``random-stream``). At init, without a trace
    of the initialisers, a large first-step difference means they drew other numbers
    (initialisers are random); a changed learning rate is a computation; otherwise the
    size of the step's largest relative difference decides.
    """
    big = step_rel > rounding_threshold(dtype)
    if location == "batch":
        return "random-stream"
    if phase == "init":
        return "random-stream" if big else "rounding"
    if location == "lr":
        return "computation"
    return "computation" if big else "rounding"
