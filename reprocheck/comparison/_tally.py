"""The statistics of one compared pair, however they were gathered: chunk by chunk with
torch (:mod:`reprocheck.comparison._chunked`) or in one native pass
(:mod:`reprocheck.comparison._fused`), and the TensorDiff fields they give.

ULP distances go into a histogram (one slot per distance below 2**16, then log2
buckets); few are kept as values, so small tensors get exact quantiles without one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from reprocheck.comparison._bits import BUCKET_LOW, ULP_EXACT_LIMIT, lowered, torch_cat

if TYPE_CHECKING:
    import torch

__all__ = [
    "PENDING_CAP",
    "QUANTILES",
    "Folded",
    "Tally",
    "linear_quantiles",
    "quantile_ranks",
    "slot_value",
]

# Few ULP distances are kept as values (exact quantiles, no 64K-slot histogram for a small
# tensor); many go straight into the histogram so memory stays bounded.
PENDING_CAP = 1 << 16
_DIRECT = 1 << 12


class Folded(NamedTuple):
    """A pair's statistics as the native kernel gathered them (:meth:`Tally.take`)."""

    n_diff: int
    n_exceed: int
    ulp_max: int
    max_abs: float
    max_abs_at: int
    max_rel: float
    max_rel_at: int
    quantiles: tuple[float, float]


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index: list[int] = []
    for size in reversed(shape):
        flat, rest = divmod(flat, size)
        index.append(rest)
    return tuple(reversed(index))


def slot_value(slot: int) -> float:
    """The distance a histogram slot stands for (a log2 bucket: its lower bound)."""
    return float(slot if slot < ULP_EXACT_LIMIT else BUCKET_LOW[slot - ULP_EXACT_LIMIT])


def quantile_ranks(qs: tuple[float, ...], total: int) -> list[int]:
    """The ranks :func:`linear_quantiles` reads, ascending."""
    ranks: set[int] = set()
    for q in qs:
        low = math.floor(q * (total - 1))
        ranks.update((low, min(low + 1, total - 1)))
    return sorted(ranks)


def linear_quantiles(qs: tuple[float, ...], total: int, at: Callable[[int], float]) -> list[float]:
    """numpy's default ("linear") quantiles of ``total`` ordered values, ``at(rank)``
    giving the value of each rank :func:`quantile_ranks` names."""
    result = []
    for q in qs:
        pos = q * (total - 1)
        low = math.floor(pos)
        lo_value, hi_value = at(low), at(min(low + 1, total - 1))
        result.append(lo_value + (hi_value - lo_value) * (pos - low))
    return result


#: The quantiles of the ULP distances a finding reports (ulp_median, ulp_p99).
QUANTILES = (0.5, 0.99)


class Tally:
    """The statistics of one pair, however they were gathered (torch chunks or the native
    kernel), and the TensorDiff fields they give."""

    def __init__(
        self,
        numel: int,
        kind: Literal["float", "complex", "exact"],
        *,
        pending_cap: int = PENDING_CAP,
    ) -> None:
        self.numel, self.kind, self.pending_cap = numel, kind, pending_cap
        self.n_diff = self.n_exceed = self.nan_mismatch = 0
        self.max_abs = self.max_rel = -1.0
        self.max_abs_at = self.max_rel_at = -1
        self.ulp_max = 0
        # ULP distances: equal elements are counted in ulp_zeros; few distances are kept
        # as values (pending: exact quantiles, cheap for small tensors), many are counted
        # into a histogram (slot v below 2**16, then log2 buckets) so memory stays bounded.
        self.ulp_zeros = 0
        self.pending: list[torch.Tensor] = []
        self.pending_n = 0
        self.histogram: torch.Tensor | None = None
        # Quantiles worked out where the distances were counted (the native kernel).
        self.quantiles: tuple[float, float] | None = None

    def take(self, folded: Folded) -> None:
        """Hold what the native kernel gathered (:mod:`reprocheck.comparison._fused`)."""
        self.n_diff, self.n_exceed, self.ulp_max = folded.n_diff, folded.n_exceed, folded.ulp_max
        self.max_abs, self.max_abs_at = folded.max_abs, folded.max_abs_at
        self.max_rel, self.max_rel_at = folded.max_rel, folded.max_rel_at
        self.quantiles = folded.quantiles

    def _add_ulps(self, dist: torch.Tensor) -> None:
        """Count many distances at once; keep few as values (see PENDING_CAP)."""
        import torch

        if dist.numel() >= _DIRECT:
            self._count(dist)
            return
        self.pending.append(dist.to(torch.int64))
        self.pending_n += dist.numel()
        if self.pending_n > self.pending_cap:
            self._count(torch_cat([p.to(torch.int64) for p in self.pending]))
            self.pending, self.pending_n = [], 0

    def _count(self, values: torch.Tensor) -> None:
        """Add ULP distances to the histogram: slot v for v < 2**16, then log2 buckets."""
        import torch

        slots = values
        if self.ulp_max >= ULP_EXACT_LIMIT:
            values = values.to(torch.int64)
            low = torch.tensor(BUCKET_LOW, dtype=torch.int64, device=values.device)
            large = values >= ULP_EXACT_LIMIT
            slots = values.clone()
            slots[large] = ULP_EXACT_LIMIT + torch.bucketize(values[large], low, right=True) - 1
        if self.histogram is None:
            size = ULP_EXACT_LIMIT + len(BUCKET_LOW)
            self.histogram = torch.zeros(size, dtype=torch.int64, device=values.device)
        # No minlength: distances are usually small, so the counts are short.
        counts = torch.bincount(slots)
        self.histogram[: counts.numel()] += counts

    def _quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """numpy's default ("linear") quantiles of all ULP distances, zeros included."""
        import torch

        ordered = torch.zeros(0, dtype=torch.int64)
        cumulative: torch.Tensor | None = None
        if self.histogram is None:
            total = self.ulp_zeros + self.pending_n
            if self.pending:
                ordered = lowered(torch.sort(torch_cat(self.pending)).values.cpu())
        else:
            if self.pending:
                self._count(torch_cat(self.pending))
                self.pending, self.pending_n = [], 0
            cumulative = torch.cumsum(self.histogram, 0).cpu()
            total = self.ulp_zeros + int(cumulative[-1])

        def at(rank: int) -> float:
            if rank < self.ulp_zeros:
                return 0.0
            rank -= self.ulp_zeros
            if cumulative is None:
                return float(ordered[rank])
            return slot_value(int(torch.searchsorted(cumulative, rank, right=True)))

        return linear_quantiles(qs, total, at)

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
        if self.quantiles is not None:
            median, p99 = self.quantiles
            stats.update(ulp_max=self.ulp_max, ulp_median=median, ulp_p99=p99)
        elif self.kind == "float" and (
            self.ulp_zeros or self.pending_n or self.histogram is not None
        ):
            median, p99 = self._quantiles(QUANTILES)
            stats.update(ulp_max=self.ulp_max, ulp_median=median, ulp_p99=p99)
        return stats
