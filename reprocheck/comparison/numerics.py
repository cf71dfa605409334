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
for float64 and integers. Metrics are compared with the same rules, as per-step series
(``comparison.runs``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Literal, get_args

from reprocheck._schema import encode_float, req, req_float, req_int, req_str
from reprocheck.comparison._bits import ULP_EXACT_LIMIT, int_dtype, isnan, ulp_from_bits
from reprocheck.comparison._chunked import CHUNK, Accumulator
from reprocheck.comparison._tally import Tally
from reprocheck.comparison.policy import EXACT, Tolerance
from reprocheck.errors import ArtifactError
from reprocheck.model.digest import dtype_name

if TYPE_CHECKING:
    import torch

    from reprocheck.comparison._fused import Folded

__all__ = [
    "CHUNK",
    "TENSOR_STATUSES",
    "ULP_EXACT_LIMIT",
    "TensorDiff",
    "TensorStatus",
    "compare_tensors",
    "dtype_name",
    "folded_diff",
    "kind_of",
    "layout_mismatch",
    "missing",
    "ulp_distance",
]

#: How one tensor (or metric) of the candidate compares with the baseline's.
TensorStatus = Literal[
    "equal",
    "within_tolerance",
    "exceeds_tolerance",
    "shape_mismatch",
    "dtype_mismatch",
    "missing_in_candidate",
    "missing_in_baseline",
    "nan_mismatch",
    "digest_differs",
]
TENSOR_STATUSES: tuple[TensorStatus, ...] = get_args(TensorStatus)
_INDICES = ("shape", "candidate_shape", "max_abs_index", "max_rel_index")


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
    status: TensorStatus
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
        return self.status in ("equal", "within_tolerance", "digest_differs")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN/Inf floats written as strings)."""
        data: dict[str, Any] = dataclasses.asdict(self)
        for name in _INDICES:
            value = data[name]
            data[name] = None if value is None else list(value)
        for name in ("share_diff", "max_abs", "max_rel", "ulp_median", "ulp_p99"):
            value = data[name]
            data[name] = None if value is None else encode_float(value)
        data["tolerance"] = self.tolerance.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "tensor diff") -> TensorDiff:
        """Inverse of :meth:`to_dict`; a malformed document is an ArtifactError."""
        status = req(data, "status", str, where)
        if status not in TENSOR_STATUSES:
            raise ArtifactError(f"{where}: unknown status {status!r}")
        values: dict[str, Any] = {
            name: req_int(data, name, where, minimum=0)
            for name in ("numel", "n_diff", "n_exceed", "nan_mismatch")
        }
        for name in ("share_diff", "max_abs", "max_rel"):
            values[name] = req_float(data, name, where)
        for name in ("dtype", "candidate_dtype"):
            values[name] = req(data, name, (str, type(None)), where)
        for name in _INDICES:
            index = req(data, name, (list, type(None)), where)
            if index is not None and not all(type(i) is int and i >= 0 for i in index):
                raise ArtifactError(f"{where}: key {name!r} must be a list of integers >= 0")
            values[name] = None if index is None else tuple(index)
        ulp_max = req(data, "ulp_max", (int, type(None)), where)
        values["ulp_max"] = None if ulp_max is None else req_int(data, "ulp_max", where)
        for name in ("ulp_median", "ulp_p99"):
            present = req(data, name, object, where) is not None
            values[name] = req_float(data, name, where) if present else None
        tol = req(data, "tolerance", dict, where)
        tolerance = Tolerance(req_float(tol, "rtol", where), req_float(tol, "atol", where))
        return cls(key=req_str(data, "key", where), status=status, tolerance=tolerance, **values)


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
    status: TensorStatus = "missing_in_candidate" if side == "candidate" else "missing_in_baseline"
    return TensorDiff(
        key=key, status=status, dtype=dtype, shape=shape, numel=numel, tolerance=tolerance
    )


def layout_mismatch(
    key: str,
    dtypes: tuple[str, str],
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
    *,
    tolerance: Tolerance = EXACT,
) -> TensorDiff | None:
    """The finding for tensors whose dtype or shape differ (baseline first), else None."""
    if dtypes[0] == dtypes[1] and shapes[0] == shapes[1]:
        return None
    return TensorDiff(
        key=key,
        status="dtype_mismatch" if dtypes[0] != dtypes[1] else "shape_mismatch",
        dtype=dtypes[0],
        shape=shapes[0],
        candidate_dtype=dtypes[1],
        candidate_shape=shapes[1],
        numel=math.prod(shapes[0]),
        tolerance=tolerance,
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


# --- tensors ----------------------------------------------------------------------------


def kind_of(dtype: torch.dtype) -> Literal["float", "complex", "exact"]:
    """How a dtype's elements compare: with a tolerance (float, complex) or exactly."""
    if dtype.is_complex:
        return "complex"
    return "float" if dtype.is_floating_point else "exact"


def folded_diff(
    key: str,
    dtype: torch.dtype,
    shape: tuple[int, ...],
    tolerance: Tolerance,
    folded: Folded | None,
) -> TensorDiff:
    """The finding for a pair compared in pieces outside :func:`compare_tensors` (the
    native kernel's statistics, or None: bitwise equal), with the same fields it gives."""
    kind = kind_of(dtype)
    if kind == "exact":
        tolerance = EXACT
    tally = Tally(math.prod(shape), kind)
    if folded is None:
        stats = tally.equal_stats()
    else:
        tally.take(folded)
        stats = tally.stats(shape)
    return TensorDiff(key=key, dtype=dtype_name(dtype), shape=shape, tolerance=tolerance, **stats)


def compare_tensors(
    key: str,
    baseline: torch.Tensor,
    candidate: torch.Tensor,
    tolerance: Tolerance,
    *,
    chunk: int = CHUNK,
    bits_equal: bool | None = None,
) -> TensorDiff:
    """Compare two tensors element by element (see the module docstring for the rules).

    Args:
        key: The name reported, e.g. ``"mlp/param/fc1.weight"``.
        baseline: The reference tensor.
        candidate: The tensor under test (moved to the baseline's device if elsewhere).
        tolerance: Applied to floating and complex dtypes; integers compare exactly.
        chunk: Elements examined at a time when the tensors differ (bounds memory).
        bits_equal: Whether the caller already compared the two tensors' bytes (None:
            not yet), which saves a pass over both.

    Never raises on a mismatch: dtype and shape differences come back as statuses.
    """
    import torch

    b_dtype, shape = dtype_name(baseline.dtype), tuple(baseline.shape)
    mismatch = layout_mismatch(
        key,
        (b_dtype, dtype_name(candidate.dtype)),
        (shape, tuple(candidate.shape)),
        tolerance=tolerance,
    )
    if mismatch is not None:
        return mismatch
    kind = kind_of(baseline.dtype)
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
    if acc.bits_equal() if bits_equal is None else bits_equal:
        stats = acc.equal_stats()
    else:
        # The native kernel where it is built and applies (float32/float64 without NaN
        # or Inf where they differ), else torch chunk by chunk: the same statistics.
        if not acc.fold_native():
            for start in range(0, b.numel(), chunk):
                acc.add_chunk(start, min(start + chunk, b.numel()))
        stats = acc.stats(shape)
    return TensorDiff(key=key, dtype=b_dtype, shape=shape, tolerance=tolerance, **stats)
