"""Per-tensor and per-metric numerics: bitwise equality, ULP distance and tolerance checks.

Rules (docs/tolerances.md explains them for users):

* Bitwise first: two tensors are ``equal`` when their bit patterns are identical, so NaN
  with the same payload is equal and ``+0`` vs ``-0`` is a difference (within any tolerance).
* Otherwise an element is within tolerance by torch.testing's rule,
  ``|candidate - baseline| <= atol + rtol * |baseline|``, evaluated as
  ``torch.isclose(candidate, baseline, rtol, atol, equal_nan=True)`` does, in the tensor's
  own dtype, so the decision is exactly ``torch.testing.assert_close``'s (float8: in float32).
* NaN on one side only, or a finite baseline where the candidate is infinite, is always
  drift (status ``nan_mismatch``), whatever the tolerance. NaN on both sides is fine.
  Infinities must match exactly (an infinite baseline is never "close" to anything else).
* Integer and bool tensors compare exactly; their tolerance is always ``(0, 0)``.
* Shape, dtype and missing-key mismatches are findings (statuses), never exceptions.

ULP distance maps each float's bits to an ordered integer (sign-magnitude to two's
complement) and subtracts, so neighbouring floats are 1 apart, ``+0`` and ``-0`` are 0
apart and ``-min_subnormal`` vs ``+min_subnormal`` is 2. Infinity is one ULP past the
largest finite value. Where exactly one side is NaN the distance is ``-1`` (undefined);
where both are NaN it is 0. Distances saturate at ``2**63 - 1`` (float64 across zero).

Large tensors are processed in chunks of :data:`CHUNK` elements so temporaries stay
bounded; ULP quantiles come from a histogram (exact below :data:`ULP_EXACT_LIMIT`, log2
buckets above, where the quantile reported is the bucket's lower bound). Reported errors
(``max_abs``, ``max_rel``) are computed in float32 for 8/16/32-bit floats and in float64
for float64 and integers; metrics (:func:`compare_scalars`) in float64.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import TYPE_CHECKING, Any, Literal

from reprocheck._schema import decode_float, encode_float
from reprocheck.comparison._bits import INT64_MAX, ULP_EXACT_LIMIT, int_dtype, isnan, ulp_from_bits
from reprocheck.comparison._chunked import CHUNK, Accumulator
from reprocheck.comparison.policy import EXACT, Tolerance
from reprocheck.model.digest import dtype_name

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHUNK",
    "STATUSES",
    "ULP_EXACT_LIMIT",
    "Status",
    "TensorDiff",
    "compare_scalars",
    "compare_tensors",
    "dtype_name",
    "missing",
    "ulp_distance",
]

Status = Literal[
    "equal",
    "within_tolerance",
    "exceeds_tolerance",
    "shape_mismatch",
    "dtype_mismatch",
    "missing_in_candidate",
    "missing_in_baseline",
    "nan_mismatch",
]
STATUSES: tuple[str, ...] = (
    "equal",
    "within_tolerance",
    "exceeds_tolerance",
    "shape_mismatch",
    "dtype_mismatch",
    "missing_in_candidate",
    "missing_in_baseline",
    "nan_mismatch",
)


@dataclasses.dataclass(frozen=True, slots=True)
class TensorDiff:
    """How one tensor (or metric) of the candidate differs from the baseline.

    ``n_diff`` counts bitwise-differing elements, ``n_exceed`` those outside tolerance
    (NaN/Inf mismatches included, like torch.testing's "Mismatched elements"). ``max_abs``
    and ``max_rel`` are taken over elements where neither side is NaN (see the module
    docstring for their precision); ``max_rel`` is ``inf`` where the baseline is 0 and the
    candidate is not. Their indices are the first position of the maximum, or None when
    nothing comparable differs. The ULP statistics cover ALL elements (equal ones count
    as 0) except the positions where exactly one side is NaN; they are None for non-float
    dtypes (integers, bool, complex).
    """

    key: str
    status: Status
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    candidate_dtype: str | None = None
    candidate_shape: tuple[int, ...] | None = None
    numel: int = 0
    n_diff: int = 0
    share_diff: float = 0.0
    n_exceed: int = 0
    max_abs: float = 0.0
    max_abs_index: tuple[int, ...] | None = None
    max_rel: float = 0.0
    max_rel_index: tuple[int, ...] | None = None
    ulp_max: int | None = None
    ulp_median: float | None = None
    ulp_p99: float | None = None
    nan_mismatch: int = 0
    tolerance: Tolerance = EXACT

    @property
    def equal(self) -> bool:
        """Bitwise equal."""
        return self.status == "equal"

    @property
    def within(self) -> bool:
        """Equal or within tolerance: not drift."""
        return self.status in ("equal", "within_tolerance")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN/Inf floats written as strings)."""
        data: dict[str, Any] = dataclasses.asdict(self)
        for name in ("shape", "candidate_shape", "max_abs_index", "max_rel_index"):
            value = data[name]
            data[name] = None if value is None else list(value)
        for name in ("share_diff", "max_abs", "max_rel", "ulp_median", "ulp_p99"):
            value = data[name]
            data[name] = None if value is None else encode_float(value)
        data["tolerance"] = self.tolerance.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorDiff:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        for name in ("shape", "candidate_shape", "max_abs_index", "max_rel_index"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        for name in ("share_diff", "max_abs", "max_rel", "ulp_median", "ulp_p99"):
            if values.get(name) is not None:
                values[name] = decode_float(values[name], f"tensor diff {name}")
        values["tolerance"] = Tolerance.from_dict(values.get("tolerance", {}))
        return cls(**values)


def missing(
    key: str,
    side: Literal["baseline", "candidate"],
    *,
    dtype: str | None = None,
    shape: tuple[int, ...] | None = None,
    numel: int = 0,
    tolerance: Tolerance = EXACT,
) -> TensorDiff:
    """A finding for a key present on one side only (``side`` is where it is missing)."""
    status: Status = "missing_in_candidate" if side == "candidate" else "missing_in_baseline"
    return TensorDiff(
        key=key, status=status, dtype=dtype, shape=shape, numel=numel, tolerance=tolerance
    )


# --- ULP maths ---------------------------------------------------------------------------


def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise ULP distance (int64) of two real floating tensors of one dtype and shape.

    ``+0``/``-0`` are 0 apart, NaN vs NaN is 0, NaN vs a number is ``-1``.

    Raises:
        ValueError: dtypes or shapes differ, or the dtype is not a real floating dtype.
    """
    import torch

    if a.dtype != b.dtype or a.shape != b.shape:
        raise ValueError("ulp_distance needs tensors of one dtype and shape")
    if not a.dtype.is_floating_point:
        raise ValueError(f"ulp_distance needs a floating dtype, got {dtype_name(a.dtype)}")
    bits = int_dtype(a.element_size())
    dist = ulp_from_bits(a.contiguous().view(bits), b.contiguous().view(bits))
    a_nan = isnan(a)
    b_nan = isnan(b)
    dist = torch.where(a_nan & b_nan, torch.zeros_like(dist), dist)
    return torch.where(a_nan ^ b_nan, torch.full_like(dist, -1), dist)


def _f64_ordered(value: float) -> tuple[int, int]:
    bits = struct.unpack("<q", struct.pack("<d", value))[0]
    return bits, bits & INT64_MAX


def _scalar_ulp(a: float, b: float) -> int:
    a_bits, a_mag = _f64_ordered(a)
    b_bits, b_mag = _f64_ordered(b)
    if (a_bits < 0) == (b_bits < 0):
        return abs(a_mag - b_mag)
    return min(a_mag + b_mag, INT64_MAX)


# --- tensors ----------------------------------------------------------------------------


def _kind(t: torch.Tensor) -> Literal["float", "complex", "exact"]:
    if t.is_complex():
        return "complex"
    return "float" if t.dtype.is_floating_point else "exact"


def compare_tensors(
    key: str,
    baseline: torch.Tensor,
    candidate: torch.Tensor,
    tolerance: Tolerance,
    *,
    chunk: int = CHUNK,
) -> TensorDiff:
    """Compare two tensors element by element (see the module docstring for the rules).

    Args:
        key: The name reported, e.g. ``"mlp/param/fc1.weight"``.
        baseline: The reference tensor.
        candidate: The tensor under test (moved to the baseline's device if elsewhere).
        tolerance: Applied to floating and complex dtypes; integers compare exactly.
        chunk: Elements examined at a time when the tensors differ (bounds memory).

    Never raises on a mismatch: dtype and shape differences come back as statuses.
    """
    import torch

    b_dtype, c_dtype = dtype_name(baseline.dtype), dtype_name(candidate.dtype)
    shape, c_shape = tuple(baseline.shape), tuple(candidate.shape)
    if b_dtype != c_dtype or shape != c_shape:
        return TensorDiff(
            key=key,
            status="dtype_mismatch" if b_dtype != c_dtype else "shape_mismatch",
            dtype=b_dtype,
            shape=shape,
            candidate_dtype=c_dtype,
            candidate_shape=c_shape,
            numel=baseline.numel(),
            tolerance=tolerance,
        )
    kind = _kind(baseline)
    if kind == "exact":
        tolerance = EXACT
    if baseline.dtype == torch.complex32:
        # Few kernels take complex32; widening is exact.
        baseline, candidate = baseline.to(torch.complex64), candidate.to(torch.complex64)
    b = baseline.detach().reshape(-1)
    c = candidate.detach().reshape(-1)
    if c.device != b.device:
        c = c.to(b.device)
    acc = Accumulator(b, c, kind, tolerance)
    if acc.bits_equal():
        stats = acc.equal_stats()
    else:
        for start in range(0, b.numel(), chunk):
            acc.add_chunk(start, min(start + chunk, b.numel()))
        stats = acc.stats(shape)
    return TensorDiff(key=key, dtype=b_dtype, shape=shape, tolerance=tolerance, **stats)


def compare_scalars(
    key: str, baseline: float, candidate: float, tolerance: Tolerance
) -> TensorDiff:
    """Compare two metric values as float64 scalars (same rules, ``numel`` 1, shape ``()``)."""
    b, c = float(baseline), float(candidate)
    common: dict[str, Any] = {
        "key": key,
        "dtype": "float64",
        "shape": (),
        "numel": 1,
        "tolerance": tolerance,
    }
    if struct.pack("<d", b) == struct.pack("<d", c):
        return TensorDiff(status="equal", ulp_max=0, ulp_median=0.0, ulp_p99=0.0, **common)
    b_nan, c_nan = math.isnan(b), math.isnan(c)
    nan_mismatch = (b_nan != c_nan) or (math.isfinite(b) and math.isinf(c))
    # torch.isclose's rule, in float64 like torch does for float64 tensors.
    if b_nan or c_nan:
        close = b_nan and c_nan
    elif b == c:
        close = True
    else:
        error = abs(c - b)
        close = math.isfinite(error) and error <= tolerance.atol + abs(tolerance.rtol * b)
    status: Status = (
        "nan_mismatch" if nan_mismatch else ("within_tolerance" if close else "exceeds_tolerance")
    )
    ulp: int | None = None
    max_abs = max_rel = 0.0
    index: tuple[int, ...] | None = None
    if not (b_nan or c_nan):
        ulp = _scalar_ulp(b, c)
        max_abs = abs(c - b)
        max_rel = 0.0 if max_abs == 0 else (max_abs / abs(b) if abs(b) != 0 else math.inf)
        if math.isnan(max_rel):  # infinite baseline: relative error is undefined, i.e. huge
            max_rel = math.inf
        index = ()
    elif b_nan and c_nan:
        ulp = 0
    return TensorDiff(
        status=status,
        n_diff=1,
        share_diff=1.0,
        n_exceed=0 if close else 1,
        max_abs=max_abs,
        max_abs_index=index,
        max_rel=max_rel,
        max_rel_index=index,
        ulp_max=ulp,
        ulp_median=None if ulp is None else float(ulp),
        ulp_p99=None if ulp is None else float(ulp),
        nan_mismatch=int(nan_mismatch),
        **common,
    )
