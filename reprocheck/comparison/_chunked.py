"""Chunked, bounded-memory statistics behind :func:`reprocheck.comparison.numerics.compare_tensors`
(the torch path; :mod:`reprocheck.comparison._fused` is the native one).

Only bitwise-differing elements of a chunk are gathered and examined, so a pair of tensors
that differs in a few places costs little more than one bitwise pass; temporaries stay
within a few times :data:`CHUNK` elements whatever the tensor size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from reprocheck.comparison._bits import (
    bits_of,
    first_argmax,
    positions,
    same_bytes,
    ulp_from_bits,
)
from reprocheck.comparison._tally import PENDING_CAP, Tally

if TYPE_CHECKING:
    import torch

    from reprocheck.comparison.policy import Tolerance

__all__ = ["CHUNK", "Accumulator"]

# Small enough that a chunk's temporaries stay in cache.
CHUNK = 1 << 18
# Elements probed to choose how the first chunk is examined.
_PROBE = 1 << 12


class Accumulator(Tally):
    """Statistics of two flat tensors of one dtype, fed chunk by chunk."""

    def __init__(
        self,
        baseline: torch.Tensor,
        candidate: torch.Tensor,
        kind: Literal["float", "complex", "exact"],
        tolerance: Tolerance,
        *,
        pending_cap: int = PENDING_CAP,
    ) -> None:
        import torch

        super().__init__(baseline.numel(), kind, pending_cap=pending_cap)
        self.b, self.c, self.tol = baseline, candidate, tolerance
        self.b_bits, self.c_bits = bits_of(baseline, kind), bits_of(candidate, kind)
        # Whole chunks where most elements differ, else the differing ones by index:
        # guessed from the first elements by the first chunk (bitwise-equal tensors never
        # get there), corrected by every chunk (see add_chunk).
        self.dense: bool | None = None
        self.atol_work: float | None = None
        # Working precision for the reported errors: float32 for 8/16/32-bit floats (a
        # few ULP of rounding in a reported maximum is immaterial, and it halves the
        # memory traffic), float64 for float64 and integers, complex128 for complex.
        if kind == "complex":
            self.wide = torch.complex128
        elif kind == "float" and baseline.element_size() <= 4:
            self.wide = torch.float32
        else:
            self.wide = torch.float64

    def _mostly_differs(self, n: int) -> bool:
        """Whether more than a quarter of the first ``n`` elements differ bitwise."""
        differs = self.b_bits[:n] != self.c_bits[:n]
        if self.kind == "complex":
            differs = differs.any(dim=1)
        return int(differs.count_nonzero()) > differs.numel() // 4

    def fold_native(self) -> bool:
        """Every statistic in one native pass (:mod:`reprocheck.comparison._fused`).

        False, having changed nothing, where the kernel is not built, the dtype is not
        float32/float64, or a differing element is NaN or Inf: then :meth:`add_chunk`.
        """
        from reprocheck.comparison import _fused

        if self.kind != "float":
            return False
        folded = _fused.fold(self.b, self.c, self.tol.rtol, self.tol.atol)
        if folded is None:
            return False
        self.take(folded)
        return True

    def bits_equal(self) -> bool:
        """Whether every bit pattern matches (the fast path: one pass, no temporaries)."""
        return same_bytes(self.b_bits, self.c_bits)

    def add_chunk(self, start: int, stop: int) -> None:
        """Fold elements ``[start, stop)`` into the statistics.

        Two strategies, chosen by how the previous chunk looked: where most elements
        differ, examine the whole chunk at once (equal elements add zeros everywhere);
        where few do, gather the differing ones by index first.
        """
        if self.dense is None:
            self.dense = self._mostly_differs(_PROBE)
        size = stop - start
        b, c = self.b[start:stop], self.c[start:stop]
        fast = self.kind == "float" and b.element_size() > 1
        if fast and self.dense:
            count = self._finite_floats(b, c, start=start, idx=None)
            if count is not None:
                self.n_diff += count
                self.dense = count > size // 4
                return
        differs = self.b_bits[start:stop] != self.c_bits[start:stop]
        if self.kind == "complex":
            differs = differs.any(dim=1)
        idx = positions(differs)
        count = idx.numel()
        if count == 0:
            self.ulp_zeros += size  # equal elements are 0 ULP apart
            return
        if fast and not self.dense and count > size // 4:
            self.dense = True
            whole = self._finite_floats(b, c, start=start, idx=None)
            if whole is not None:
                self.n_diff += whole
                return
        self.n_diff += count
        self.ulp_zeros += size - count
        if count < size:
            b, c = b.index_select(0, idx), c.index_select(0, idx)
        where = None if count == size else idx
        if fast and self._finite_floats(b, c, start=start, idx=where) is not None:
            return
        self._general(b, c, start=start, idx=where)

    def _general(
        self, b: torch.Tensor, c: torch.Tensor, *, start: int, idx: torch.Tensor | None
    ) -> None:
        """Differing elements with NaN or Inf, complex, integer, bool and float8 values."""
        import torch

        count = b.numel()
        b_bits, c_bits = bits_of(b, self.kind), bits_of(c, self.kind)
        if self.kind == "float" and b.element_size() == 1:
            # float8 lacks most kernels; float32 holds every float8 value exactly.
            b, c = b.float(), c.float()
        nans: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.kind == "exact":
            self.n_exceed += count
        else:
            close = torch.isclose(c, b, rtol=self.tol.rtol, atol=self.tol.atol, equal_nan=True)
            self.n_exceed += count - int(close.sum())
            if not bool((b.isfinite() & c.isfinite()).all()):
                b_nan, c_nan = b.isnan(), c.isnan()
                bad = (b_nan ^ c_nan) | (b.isfinite() & c.isinf())
                self.nan_mismatch += int(bad.sum())
                nans = (b_nan, c_nan)
        self._errors(b, c, nans, start, idx)
        if self.kind == "float":
            self._ulps(b_bits, c_bits, nans)

    def _errors(
        self,
        b: torch.Tensor,
        c: torch.Tensor,
        nans: tuple[torch.Tensor, torch.Tensor] | None,
        start: int,
        idx: torch.Tensor | None,
    ) -> None:
        import torch

        b64 = b.to(self.wide)
        abs_err = torch.sub(c.to(self.wide), b64).abs()
        rel_err = abs_err / b64.abs()
        if nans is None:
            # All finite: NaN only from 0/0 (+0 vs -0), which is no relative error.
            rel_err.nan_to_num_(nan=0.0, posinf=math.inf)
        else:
            rel_err = torch.where(abs_err == 0, torch.zeros_like(abs_err), rel_err)
            # An infinite baseline makes inf/inf: the relative error is undefined, i.e. huge.
            rel_err.nan_to_num_(nan=math.inf, posinf=math.inf)
            any_nan = nans[0] | nans[1]
            abs_err.masked_fill_(any_nan, -1.0)
            rel_err.masked_fill_(any_nan, -1.0)
        self._note_max("abs", abs_err, start, idx)
        self._note_max("rel", rel_err, start, idx)

    def _note_max(
        self,
        name: str,
        err: torch.Tensor,
        start: int,
        idx: torch.Tensor | None,
        value: float | None = None,
    ) -> None:
        """Keep the first position of the largest error (argmax only when it improves)."""
        if value is None:
            value = float(err.amax())
        if value > getattr(self, f"max_{name}"):
            pos = first_argmax(err)
            if idx is not None:  # position among the differing elements -> in the chunk
                pos = int(idx[pos])
            setattr(self, f"max_{name}", value)
            setattr(self, f"max_{name}_at", start + pos)

    def _atol_in(self, dtype: torch.dtype) -> float:
        """atol as a tensor of ``dtype`` holds it (what isclose adds in that dtype)."""
        import torch

        if self.atol_work is None:
            self.atol_work = float(torch.tensor(self.tol.atol, dtype=dtype))
        return self.atol_work

    def _finite_floats(
        self, b: torch.Tensor, c: torch.Tensor, *, start: int, idx: torch.Tensor | None
    ) -> int | None:
        """The common case, in few passes: real floats, no NaN or Inf on either side.

        Returns how many of the examined elements differ bitwise, or None, having changed
        nothing, when a NaN or Inf (or an overflowing difference, or a whole chunk whose
        only differences are +0 vs -0) needs the general path.
        """
        import torch

        work = self.wide  # the same working precision as the general path
        b_w = b.to(work)
        abs_err = torch.sub(c.to(work), b_w).abs_()
        top = float(abs_err.amax())  # NaN propagates: a finite max means no NaN/Inf
        if not math.isfinite(top) or (top == 0 and idx is None):
            # NaN/Inf, or only +0 vs -0 differences (or none) in a whole chunk, where
            # argmax would name an equal element: the general path, on the differing ones.
            return None
        # torch.isclose's arithmetic, op for op in the tensor's own dtype, so the decision
        # is assert_close's bit for bit; everything is finite, so its NaN/Inf cases vanish.
        # Shortcut: where abs_err is isclose's own error (float32/64), an error no larger
        # than atol (as that dtype holds it) is within every element's allowance.
        if b.dtype != work or top > self._atol_in(work):
            err = abs_err if b.dtype == work else torch.sub(c, b).abs_()
            allowed = torch.mul(b, self.tol.rtol).abs_().add_(self.tol.atol)
            close = err <= allowed
            if b.dtype != work:  # a half-precision difference can overflow to Inf: not close
                close &= err.isfinite()
            self.n_exceed += b.numel() - int(close.count_nonzero())
        self._note_max("abs", abs_err, start, idx, top)
        rel_err = abs_err.div_(b_w.abs())
        rel_top = float(rel_err.amax())
        if math.isnan(rel_top):  # 0/0 from +0 vs -0: no relative error
            rel_err.nan_to_num_(nan=0.0, posinf=math.inf)
            rel_top = float(rel_err.amax())
        self._note_max("rel", rel_err, start, idx, rel_top)
        # ULP: same-sign pairs subtract exactly in their own integer width. Opposite signs
        # (which may overflow there) imply a relative error >= 1, or +0 vs -0, whose
        # difference is the most negative integer: recompute those pairs in int64.
        b_bits, c_bits = bits_of(b, "float"), bits_of(c, "float")
        dist = torch.sub(c_bits, b_bits).abs_()
        # Nonzero exactly where the bits differ (wrapping keeps it so; |INT_MIN| stays
        # nonzero): the count of differing elements, without a separate comparison.
        differing = b.numel() if idx is not None else int(dist.count_nonzero())
        if rel_top >= 1 or int(dist.amin()) < 0:
            signs = b_bits ^ c_bits  # negative exactly where the signs differ
            if int(signs.amin()) < 0:  # one reduction, no bool pass, where none do
                dist = dist.to(torch.int64)
                where = (signs < 0).nonzero().squeeze(1)
                dist[where] = ulp_from_bits(b_bits[where], c_bits[where])
        self.ulp_max = max(self.ulp_max, int(dist.max()))
        self._add_ulps(dist)
        return differing

    def _ulps(
        self,
        b_bits: torch.Tensor,
        c_bits: torch.Tensor,
        nans: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> None:
        dist = ulp_from_bits(b_bits, c_bits)
        if nans is not None:
            b_nan, c_nan = nans
            dist.masked_fill_(b_nan & c_nan, 0)
            one_nan = b_nan ^ c_nan
            if bool(one_nan.any()):
                dist = dist[~one_nan]
        if dist.numel() == 0:
            return
        self.ulp_max = max(self.ulp_max, int(dist.max()))
        self._add_ulps(dist)
