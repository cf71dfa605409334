"""Chunked, bounded-memory statistics behind :func:`reprocheck.comparison.numerics.compare_tensors`.

Only bitwise-differing elements of a chunk are gathered and examined, so a pair of tensors
that differs in a few places costs little more than one bitwise pass; temporaries stay
within a few times :data:`CHUNK` elements whatever the tensor size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

    from reprocheck.comparison.policy import Tolerance

__all__ = ["CHUNK", "INT64_MAX", "ULP_EXACT_LIMIT", "Accumulator", "int_dtype", "ulp_from_bits"]

CHUNK = 1 << 22
ULP_EXACT_LIMIT = 1 << 16
INT64_MAX = (1 << 63) - 1
# Log2 buckets above the exact range: bucket k holds [2**(16+k), 2**(17+k)); the last
# one is open-ended.
_BUCKET_LOW = tuple(1 << e for e in range(16, 63))
_PENDING_CAP = 1 << 22


def int_dtype(itemsize: int) -> torch.dtype:
    """The signed integer dtype with ``itemsize`` bytes (a bit view of a float)."""
    import torch

    return {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[itemsize]


def isnan(t: torch.Tensor) -> torch.Tensor:
    """``t.isnan()``, also for float8 (which lacks the kernel on some versions)."""
    return (t.float() if t.is_floating_point() and t.element_size() == 1 else t).isnan()


def ulp_from_bits(a_bits: torch.Tensor, b_bits: torch.Tensor, width: int) -> torch.Tensor:
    """Elementwise ULP distance of two int64 tensors holding sign-extended float bits."""
    import torch

    magnitude_mask = (1 << (width - 1)) - 1
    a_mag = a_bits & magnitude_mask
    b_mag = b_bits & magnitude_mask
    same_sign = (a_bits < 0) == (b_bits < 0)
    # Across zero the distance is the sum of both magnitudes; only float64 can overflow
    # int64 there (the sum wraps negative), so saturate.
    dist = torch.where(same_sign, (a_mag - b_mag).abs(), a_mag + b_mag)
    return torch.where(dist < 0, torch.full_like(dist, INT64_MAX), dist)


def _bits(t: torch.Tensor, kind: str) -> torch.Tensor:
    import torch

    if kind == "exact":
        return t
    if kind == "complex":
        real = torch.view_as_real(t)
        return real.view(int_dtype(real.element_size()))
    return t.view(int_dtype(t.element_size()))


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index: list[int] = []
    for size in reversed(shape):
        flat, rest = divmod(flat, size)
        index.append(rest)
    return tuple(reversed(index))


class Accumulator:
    """Statistics of two flat tensors of one dtype, fed chunk by chunk."""

    def __init__(
        self,
        baseline: torch.Tensor,
        candidate: torch.Tensor,
        kind: Literal["float", "complex", "exact"],
        tolerance: Tolerance,
        *,
        pending_cap: int = _PENDING_CAP,
    ) -> None:
        import torch

        self.pending_cap = pending_cap
        self.b, self.c, self.kind, self.tol = baseline, candidate, kind, tolerance
        self.b_bits, self.c_bits = _bits(baseline, kind), _bits(candidate, kind)
        self.numel = baseline.numel()
        self.n_diff = self.n_exceed = self.nan_mismatch = 0
        self.max_abs = self.max_rel = -1.0
        self.max_abs_at = self.max_rel_at = -1
        self.ulp_max = 0
        # ULP distances of differing elements, "lowered" (values from 2**16 up replaced by
        # their log2 bucket's lower bound). Kept as values while few, folded into a
        # histogram past _PENDING_CAP so memory stays bounded on huge tensors.
        self.ulp_zeros = 0
        self.pending: list[torch.Tensor] = []
        self.pending_n = 0
        self.histogram: torch.Tensor | None = None
        self.wide = torch.complex128 if kind == "complex" else torch.float64

    def bits_equal(self) -> bool:
        """Whether every bit pattern matches (the fast path: one pass, no temporaries)."""
        import torch

        return bool(torch.equal(self.b_bits, self.c_bits))

    def add_chunk(self, start: int, stop: int) -> None:
        """Fold elements ``[start, stop)`` into the statistics."""
        import torch

        b_bits, c_bits = self.b_bits[start:stop], self.c_bits[start:stop]
        differs = b_bits != c_bits
        if self.kind == "complex":
            differs = differs.any(dim=1)
        count = int(differs.sum())
        self.ulp_zeros += (stop - start) - count  # equal elements are 0 ULP apart
        if count == 0:
            return
        self.n_diff += count
        b, c = self.b[start:stop], self.c[start:stop]
        where: torch.Tensor | None = None
        if count < stop - start:
            where = differs.nonzero().squeeze(1)
            b, c, b_bits, c_bits = b[where], c[where], b_bits[where], c_bits[where]
        if self.kind == "exact":
            self.n_exceed += count
            b_nan = c_nan = torch.zeros_like(b, dtype=torch.bool)
        else:
            close = self._isclose(b, c)
            self.n_exceed += count - int(close.sum())
            b_nan, c_nan = isnan(b), isnan(c)
            one_nan = b_nan ^ c_nan
            bad = one_nan | (~b_nan & ~c_nan & b.isfinite() & c.isinf())
            self.nan_mismatch += int(bad.sum())
        self._errors(b, c, b_nan | c_nan, start, where)
        if self.kind == "float":
            self._ulps(b_bits, c_bits, b_nan, c_nan)

    def _isclose(self, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        import torch

        if b.element_size() == 1:  # float8: no isclose kernel; float32 holds it exactly
            b, c = b.float(), c.float()
        return torch.isclose(c, b, rtol=self.tol.rtol, atol=self.tol.atol, equal_nan=True)

    def _errors(
        self,
        b: torch.Tensor,
        c: torch.Tensor,
        any_nan: torch.Tensor,
        start: int,
        where: torch.Tensor | None,
    ) -> None:
        import torch

        b64, c64 = b.to(self.wide), c.to(self.wide)
        abs_err = (c64 - b64).abs()
        b_abs = b64.abs()
        rel_err = torch.where(abs_err == 0, torch.zeros_like(abs_err), abs_err / b_abs)
        # An infinite baseline makes inf/inf: the relative error is undefined, i.e. huge.
        rel_err = torch.nan_to_num(rel_err, nan=math.inf, posinf=math.inf)
        sentinel = torch.full_like(abs_err, -1.0)
        abs_err = torch.where(any_nan, sentinel, abs_err)
        rel_err = torch.where(any_nan, sentinel, rel_err)
        for err, name in ((abs_err, "abs"), (rel_err, "rel")):
            pos = int(err.argmax())
            value = float(err[pos])
            if value > getattr(self, f"max_{name}"):
                flat = start + (pos if where is None else int(where[pos]))
                setattr(self, f"max_{name}", value)
                setattr(self, f"max_{name}_at", flat)

    def _ulps(
        self, b_bits: torch.Tensor, c_bits: torch.Tensor, b_nan: torch.Tensor, c_nan: torch.Tensor
    ) -> None:
        import torch

        width = 8 * b_bits.element_size()
        dist = ulp_from_bits(b_bits.to(torch.int64), c_bits.to(torch.int64), width)
        dist = torch.where(b_nan & c_nan, torch.zeros_like(dist), dist)
        one_nan = b_nan ^ c_nan
        if bool(one_nan.any()):
            dist = dist[~one_nan]
        if dist.numel() == 0:
            return
        self.ulp_max = max(self.ulp_max, int(dist.max()))
        large = dist >= ULP_EXACT_LIMIT
        if bool(large.any()):
            low = torch.tensor(_BUCKET_LOW, dtype=torch.int64, device=dist.device)
            buckets = torch.bucketize(dist[large], low[1:], right=True)
            dist = dist.clone()
            dist[large] = low[buckets]
        self.pending.append(dist)
        self.pending_n += dist.numel()
        if self.pending_n > self.pending_cap:
            self._fold()

    def _fold(self) -> None:
        """Move pending values into the histogram (slot v for v < 2**16, then buckets)."""
        import torch

        values = torch.cat(self.pending)
        self.pending, self.pending_n = [], 0
        low = torch.tensor(_BUCKET_LOW, dtype=torch.int64, device=values.device)
        large = values >= ULP_EXACT_LIMIT
        slots = values.clone()
        slots[large] = ULP_EXACT_LIMIT + torch.bucketize(values[large], low, right=True) - 1
        counts = torch.bincount(slots, minlength=ULP_EXACT_LIMIT + len(_BUCKET_LOW))
        self.histogram = counts if self.histogram is None else self.histogram + counts

    def _quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """numpy's default ("linear") quantiles of all ULP distances, zeros included."""
        import torch

        ordered = torch.zeros(0, dtype=torch.int64)
        cumulative: torch.Tensor | None = None
        if self.histogram is None:
            total = self.ulp_zeros + self.pending_n
            if self.pending:
                ordered = torch.sort(torch.cat(self.pending)).values.cpu()
        else:
            if self.pending:
                self._fold()
            cumulative = torch.cumsum(self.histogram, 0).cpu()
            total = self.ulp_zeros + int(cumulative[-1])

        def at(rank: int) -> float:
            if rank < self.ulp_zeros:
                return 0.0
            rank -= self.ulp_zeros
            if cumulative is None:
                return float(ordered[rank])
            slot = int(torch.searchsorted(cumulative, rank, right=True))
            return float(slot if slot < ULP_EXACT_LIMIT else _BUCKET_LOW[slot - ULP_EXACT_LIMIT])

        result = []
        for q in qs:
            pos = q * (total - 1)
            low = math.floor(pos)
            lo_value, hi_value = at(low), at(min(low + 1, total - 1))
            result.append(lo_value + (hi_value - lo_value) * (pos - low))
        return result

    def equal_stats(self) -> dict[str, Any]:
        """TensorDiff fields for bitwise-equal tensors."""
        stats: dict[str, Any] = {"status": "equal", "numel": self.numel}
        if self.kind == "float" and self.numel:
            stats.update(ulp_max=0, ulp_median=0.0, ulp_p99=0.0)
        return stats

    def stats(self, shape: tuple[int, ...]) -> dict[str, Any]:
        """TensorDiff fields after every chunk was added."""
        if self.nan_mismatch:
            status = "nan_mismatch"
        elif self.n_exceed:
            status = "exceeds_tolerance"
        else:
            status = "within_tolerance"
        stats: dict[str, Any] = {
            "status": status,
            "numel": self.numel,
            "n_diff": self.n_diff,
            "share_diff": self.n_diff / self.numel,
            "n_exceed": self.n_exceed,
            "nan_mismatch": self.nan_mismatch,
            "max_abs": max(self.max_abs, 0.0),
            "max_rel": max(self.max_rel, 0.0),
            "max_abs_index": None if self.max_abs < 0 else _unravel(self.max_abs_at, shape),
            "max_rel_index": None if self.max_rel < 0 else _unravel(self.max_rel_at, shape),
        }
        has_ulps = self.ulp_zeros or self.pending_n or self.histogram is not None
        if self.kind == "float" and has_ulps:
            median, p99 = self._quantiles((0.5, 0.99))
            stats.update(ulp_max=self.ulp_max, ulp_median=median, ulp_p99=p99)
        return stats
