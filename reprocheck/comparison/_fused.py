"""The native comparison kernel: every statistic of a float pair in one pass, on every core.

``_fused.c`` (compiled at install time by ``hatch_build.py`` where the machine has a C
compiler) computes what :class:`reprocheck.comparison._chunked.Accumulator` computes with
about twenty torch passes per chunk, with the same arithmetic, so the results are the
same bit for bit (``tests/unit/comparison/test_fused.py``). A large pair is cut into one
segment per core; ctypes releases the GIL for each call, so the segments run at once, and
their results are merged in order (a maximum keeps its first position).

Where the library is absent (no compiler at install time, ``REPROCHECK_NO_NATIVE`` set at
build or run time) or a pair holds NaN or Inf where it differs, :func:`fold` returns
None and the caller takes the torch path. The library is loaded from this package's own
folder only, never from a path taken from the environment.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.comparison._bits import BUCKET_LOW, ULP_EXACT_LIMIT
from reprocheck.comparison._tally import (
    QUANTILES,
    Folded,
    linear_quantiles,
    quantile_ranks,
    slot_value,
)

if TYPE_CHECKING:
    import torch

__all__ = ["Fold", "Folded", "available", "cores", "fold", "supports"]

LIBRARY = Path(__file__).with_name("_fused_native.so")
#: Slots of the ULP histogram: exact below 2**16, then one per power of two.
SLOTS = ULP_EXACT_LIMIT + len(BUCKET_LOW)
#: A pair at least this long is cut into one segment per core.
_SPLIT = 1 << 20
_BLOCK = 1024  # the kernel's block: segments start on one, so blocks never straddle two


class _Stats(ctypes.Structure):
    _fields_ = [
        ("n_diff", ctypes.c_int64),
        ("n_exceed", ctypes.c_int64),
        ("ulp_max", ctypes.c_int64),
        ("abs_at", ctypes.c_int64),
        ("rel_at", ctypes.c_int64),
        ("nonfinite", ctypes.c_int64),
        ("max_abs", ctypes.c_double),
        ("max_rel", ctypes.c_double),
    ]


@functools.cache
def _library() -> Any | None:
    if os.environ.get("REPROCHECK_NO_NATIVE") or not LIBRARY.is_file():
        return None
    try:
        lib = ctypes.CDLL(str(LIBRARY))
    except OSError:  # built for another machine or Python: the torch path
        return None
    for name, real in (("rc_stats_f32", ctypes.c_float), ("rc_stats_f64", ctypes.c_double)):
        function = getattr(lib, name)
        function.restype = ctypes.c_int
        function.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_int64,
            real,
            real,
            ctypes.c_void_p,
            ctypes.POINTER(_Stats),
        ]
    lib.rc_slots_of_ranks.restype = None
    lib.rc_slots_of_ranks.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.POINTER(ctypes.c_int64),
        ctypes.c_int64,
        ctypes.POINTER(ctypes.c_int64),
    ]
    return lib


def available() -> bool:
    """Whether the native kernel is built and loads on this machine."""
    return _library() is not None


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="reprocheck-fused")


class _Histograms:
    """Zeroed histograms to count into, reused: a fresh one is 512 KiB of zeros to write,
    more than the kernel's own work on a small tensor. After use only the slots a pass
    can have touched (up to its largest distance, and the log2 buckets) are zeroed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[torch.Tensor] = []

    def take(self) -> torch.Tensor:
        import torch

        with self.lock:
            if self.idle:
                return self.idle.pop()
        return torch.zeros(SLOTS, dtype=torch.int64)

    def give(self, hist: torch.Tensor, ulp_max: int) -> None:
        hist[: min(ulp_max, ULP_EXACT_LIMIT - 1) + 1].zero_()
        if ulp_max >= ULP_EXACT_LIMIT:
            hist[ULP_EXACT_LIMIT:].zero_()
        with self.lock:
            self.idle.append(hist)


_HISTOGRAMS = _Histograms()


class Fold:
    """Statistics gathered piece by piece, in order, into one histogram (one thread).

    ``add`` runs the kernel on the next differing piece; ``equal`` notes a bitwise-equal
    piece without looking at it; ``merge`` appends a Fold of the elements that follow.
    ``finish`` gives the statistics, or None where a piece held NaN or Inf.
    """

    def __init__(self, dtype: torch.dtype, rtol: float, atol: float) -> None:
        import torch

        lib = _library()
        if lib is None or dtype not in (torch.float32, torch.float64):
            raise ValueError(f"no native kernel for {dtype}")
        self.lib = lib
        self.kernel = lib.rc_stats_f32 if dtype == torch.float32 else lib.rc_stats_f64
        self.rtol, self.atol = rtol, atol
        self.hist: torch.Tensor | None = _HISTOGRAMS.take()
        # Elements noted equal without the kernel, and counted by it into the histogram.
        self.zeros = self.counted = 0
        self.n_diff = self.n_exceed = self.ulp_max = 0
        self.max_abs = self.max_rel = -1.0
        self.abs_at = self.rel_at = -1
        self.failed = False

    def equal(self, count: int) -> None:
        self.zeros += count

    def add(self, baseline: int, candidate: int, count: int, start: int) -> bool:
        """Elements ``[start, start + count)`` at addresses ``baseline``, ``candidate``.

        False: a NaN or Inf where they differ (the Fold is spent; finish gives None).
        """
        out = _Stats()
        hist = self._held()
        self.kernel(
            baseline, candidate, count, self.rtol, self.atol, hist.data_ptr(), ctypes.byref(out)
        )
        if out.nonfinite:
            self.failed = True
            return False
        self.counted += count
        self._note(out.n_diff, out.n_exceed, out.ulp_max)
        self._best(
            out.max_abs,
            start + out.abs_at if out.abs_at >= 0 else -1,
            out.max_rel,
            start + out.rel_at if out.rel_at >= 0 else -1,
        )
        return True

    def merge(self, later: Fold) -> None:
        """Add a Fold of the elements after this one's (then spent)."""
        self.failed |= later.failed
        self.zeros += later.zeros
        self.counted += later.counted
        self._note(later.n_diff, later.n_exceed, later.ulp_max)
        self._best(later.max_abs, later.abs_at, later.max_rel, later.rel_at)
        self._held().add_(later._held())
        later.close()

    def _held(self) -> torch.Tensor:
        if self.hist is None:
            raise RuntimeError("this Fold is finished")
        return self.hist

    def _note(self, n_diff: int, n_exceed: int, ulp_max: int) -> None:
        self.n_diff += n_diff
        self.n_exceed += n_exceed
        self.ulp_max = max(self.ulp_max, ulp_max)

    def _best(self, max_abs: float, abs_at: int, max_rel: float, rel_at: int) -> None:
        # Later elements must beat a maximum, not tie it: the first position is kept.
        if abs_at >= 0 and max_abs > self.max_abs:
            self.max_abs, self.abs_at = max_abs, abs_at
        if rel_at >= 0 and max_rel > self.max_rel:
            self.max_rel, self.rel_at = max_rel, rel_at

    def close(self) -> None:
        """Give the histogram back without results (after :meth:`finish`, nothing)."""
        hist, self.hist = self.hist, None
        if hist is not None:
            _HISTOGRAMS.give(hist, SLOTS)

    def finish(self) -> Folded | None:
        hist, self.hist = self.hist, None
        if hist is None:
            raise RuntimeError("Fold.finish called twice")
        if self.failed:  # a pass stopped by a NaN may have counted anywhere
            _HISTOGRAMS.give(hist, SLOTS)
            return None
        # The quantiles' ranks looked up in the histogram where it lies (no copy, no
        # cumulative sum: 65,583 slots once the distances pass 2**16).
        total = self.zeros + self.counted
        ranks = quantile_ranks(QUANTILES, total) if total else []
        slots = (ctypes.c_int64 * max(1, len(ranks)))()
        used = self.ulp_max + 1 if self.ulp_max < ULP_EXACT_LIMIT else SLOTS
        self.lib.rc_slots_of_ranks(
            hist.data_ptr(),
            used,
            self.zeros,
            (ctypes.c_int64 * len(ranks))(*ranks),
            len(ranks),
            slots,
        )
        value = {rank: slot_value(slot) for rank, slot in zip(ranks, slots, strict=False)}
        median, p99 = linear_quantiles(QUANTILES, total, value.__getitem__) if total else (0.0, 0.0)
        _HISTOGRAMS.give(hist, self.ulp_max)
        return Folded(
            n_diff=self.n_diff,
            n_exceed=self.n_exceed,
            ulp_max=self.ulp_max,
            max_abs=self.max_abs,
            max_abs_at=self.abs_at,
            max_rel=self.max_rel,
            max_rel_at=self.rel_at,
            quantiles=(median, p99),
        )


def supports(dtype: torch.dtype) -> bool:
    """Whether the native kernel is built and takes ``dtype``."""
    import torch

    return _library() is not None and dtype in (torch.float32, torch.float64)


def fold(
    baseline: torch.Tensor, candidate: torch.Tensor, rtol: float, atol: float
) -> Folded | None:
    """Every statistic of two flat, contiguous CPU float32/float64 tensors of one length.

    A long pair is cut into one segment per core, run at once. None: the kernel is not
    available for them, or a differing element is NaN or Inf (the torch path handles
    those).
    """
    if (
        not supports(baseline.dtype)
        or candidate.dtype != baseline.dtype
        or baseline.device.type != "cpu"
        or candidate.device.type != "cpu"
        or not (baseline.is_contiguous() and candidate.is_contiguous())
        or baseline.numel() != candidate.numel()
    ):
        return None
    n, size = baseline.numel(), baseline.element_size()
    parts = cores() if n >= _SPLIT else 1
    step = max(_BLOCK, -(-n // parts // _BLOCK) * _BLOCK)

    def segment(start: int) -> Fold:
        part = Fold(baseline.dtype, rtol, atol)
        stop = min(start + step, n)
        part.add(
            baseline.data_ptr() + start * size,
            candidate.data_ptr() + start * size,
            stop - start,
            start,
        )
        return part

    starts = range(0, n, step)
    folds = [segment(0)] if len(starts) <= 1 else list(_pool().map(segment, starts))
    whole = folds[0]
    for later in folds[1:]:
        whole.merge(later)
    return whole.finish()
