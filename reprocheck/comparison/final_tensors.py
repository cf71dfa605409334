"""The final tensors of one scenario in two runs: read, verified and compared.

Every pair of one dtype and shape streams: both sides are read a piece at a time
(:data:`_PIECE` bytes, small enough to stay in the CPU's cache) into two reused buffers,
and while a piece is in cache its CRC-32 is carried on (both sides' digests are checked
at the end), the two pieces are compared byte for byte, and only differing pieces go
through the native kernel (:mod:`reprocheck.comparison._fused`), so each byte crosses
memory once, as a plain read of the files would. Equal bytes have equal CRCs: an equal
piece's CRC is carried on for both sides in one pass. Reads, CRC-32, the byte comparison
and the kernel release the GIL, so pairs stream on every core at once (one thread per
core, each with its own two pieces: memory stays a few MiB). Small pairs stream too:
measured fastest (a 67M GPT's 478 pairs under 64 KiB, identical runs: 0.38 s for all
640 pairs against 0.45 s with those compared whole).

Where a pair cannot finish that way (a differing piece with NaN or Inf, a dtype the
kernel does not take, the native kernel not built) or the two sides' dtypes or shapes
differ, the pair is read whole into reused buffers and compared by
:func:`~reprocheck.comparison.numerics.compare_tensors` — one such pair at a time, since
torch's kernels already use every core (measured on a 67M GPT on 2 cores, two torch
comparisons at once took 2.5 s against 1.7 s one at a time), and memory stays bounded
by the largest pair.

A lean run (``--keep params|digests``) holds some tensors as digests only: those compare
bitwise, by digest (``equal`` or ``digest_differs``), against whatever the other run holds.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from reprocheck._crc import crc32
from reprocheck.artifacts.tensorreader import raw_bytes
from reprocheck.comparison import _fused
from reprocheck.comparison._bits import same_bytes
from reprocheck.comparison.numerics import (
    TensorDiff,
    TensorStatus,
    compare_tensors,
    folded_diff,
    layout_mismatch,
    missing,
)
from reprocheck.errors import ArtifactError

if TYPE_CHECKING:
    import torch

    from reprocheck.artifacts.runs import Run, TensorReader
    from reprocheck.comparison.policy import Policy, Tolerance
    from reprocheck.model.records import ScenarioRecord, TensorInfo

__all__ = ["compare_final_tensors", "workers"]

#: Bytes of each side read at a time when streaming (a multiple of every dtype's size).
_PIECE = 1 << 20


def dtype_name(dtype: object) -> str:
    """``torch.float32`` or ``"float32"`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def workers() -> int:
    """Pairs compared at once: the cores this process may run on."""
    return _fused.cores()


def compare_final_tensors(
    name: str, run_b: Run, run_c: Run, c: ScenarioRecord, policy: Policy
) -> tuple[list[TensorDiff], int]:
    """Every final tensor of scenario ``name``; returns the diffs (in record order) and
    how many were compared by digest only (a lean run held no data for them)."""
    b = run_b.records[name]
    keys = list(b.tensors) + [k for k in c.tensors if k not in b.tensors]
    by_digest = 0
    tasks: list[Callable[[], TensorDiff]] = []
    sizes: list[int] = []  # bytes each task reads, to start the largest first
    with (
        run_b.open_tensors(name) as rb,
        run_c.open_tensors(name) as rc,
        ThreadPoolExecutor(max_workers=workers()) as pool,
    ):
        largest = max(
            (
                2 * rb.nbytes(k)
                for k in keys
                if run_b.stored(name, k) and run_c.stored(name, k) and k in c.tensors
            ),
            default=0,
        )
        pair = _Pair(rb, rc, (b, c), _Buffers(largest))
        for key in keys:
            full = f"{name}/{key}"
            info = b.tensors.get(key) or c.tensors[key]
            tolerance = policy.tolerance_for(full, dtype_name(info.dtype))
            sizes.append(0)
            if key not in c.tensors or key not in b.tensors:
                tasks.append(_missing_task(full, key not in c.tensors, info, tolerance))
            elif run_b.stored(name, key) and run_c.stored(name, key):
                tasks.append(functools.partial(pair.compare, full, key, tolerance))
                sizes[-1] = rb.nbytes(key)
            else:
                by_digest += 1
                tasks.append(
                    _digest_task(
                        full, key, runs=(run_b, run_c), readers=(rb, rc), records=(b, c), name=name
                    )
                )
        # Largest first, so no large pair is left for one core at the end (a 67M GPT's
        # embedding and its two AdamW states are 40% of its bytes); reported in order.
        order = sorted(range(len(tasks)), key=lambda i: -sizes[i])
        done = dict(zip(order, pool.map(lambda i: tasks[i](), order), strict=True))
        diffs = [done[i] for i in range(len(tasks))]
    return diffs, by_digest


def _missing_task(
    full: str, in_baseline: bool, info: TensorInfo, tolerance: Tolerance
) -> Callable[[], TensorDiff]:
    side: Literal["baseline", "candidate"] = "candidate" if in_baseline else "baseline"
    numel = math.prod(info.shape)
    dtype = dtype_name(info.dtype)
    return lambda: missing(
        full, side, dtype=dtype, shape=info.shape, numel=numel, tolerance=tolerance
    )


class _Buffers:
    """Reusable read buffers, at most ``limit`` bytes of them (two of the largest pair).

    Reading into memory already mapped skips a fresh allocation's page faults (about
    half the cost of reading a tensor from the page cache here). One pair is in flight
    at a time, taken and given back on the comparing thread (helpers only read into
    them), so in-use buffers never exceed ``limit``; idle ones are dropped when a new
    one would not fit.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.total = limit, 0
        self.idle: list[torch.Tensor] = []

    def take(self, n: int) -> torch.Tensor:
        import torch

        fits = [i for i, b in enumerate(self.idle) if b.numel() >= n]
        if fits:  # the smallest that fits (by position: tensors do not compare)
            return self.idle.pop(min(fits, key=lambda i: self.idle[i].numel()))
        while self.idle and self.total + n > self.limit:
            self.total -= self.idle.pop(0).numel()
        self.total += n
        return torch.empty(n, dtype=torch.uint8)

    def give(self, buffer: torch.Tensor) -> None:
        self.idle.append(buffer)


class _Piece:
    """One side's piece buffer of a streaming thread, and a view of its bytes."""

    def __init__(self) -> None:
        import torch

        self.tensor = torch.empty(_PIECE, dtype=torch.uint8)
        self.view = raw_bytes(self.tensor)


class _Pair:
    """Compares one tensor stored in both runs (see the module docstring)."""

    def __init__(
        self,
        rb: TensorReader,
        rc: TensorReader,
        records: tuple[ScenarioRecord, ScenarioRecord],
        buffers: _Buffers,
    ) -> None:
        self.rb, self.rc, self.records = rb, rc, records
        self.buffers = buffers
        self.whole_lock = threading.Lock()  # one whole pair at a time
        self.local = threading.local()  # each thread's two pieces

    def compare(self, full: str, key: str, tolerance: Tolerance) -> TensorDiff:
        size = self.rb.nbytes(key)
        layout = self.rb.dtype_and_shape(key)
        if layout == self.rc.dtype_and_shape(key):  # same dtype and shape: same size
            diff = self._stream(full, key, tolerance, layout)
            if diff is not None:
                return diff
        with self.whole_lock:
            buffers = (self.buffers.take(size), self.buffers.take(size))
            try:
                return self._whole(full, key, tolerance, buffers)
            finally:
                for buffer in buffers:
                    self.buffers.give(buffer)

    def _pieces(self) -> tuple[_Piece, _Piece]:
        pieces: tuple[_Piece, _Piece] | None = getattr(self.local, "pieces", None)
        if pieces is None:
            pieces = (_Piece(), _Piece())
            self.local.pieces = pieces
        return pieces

    def _stream(
        self, full: str, key: str, tolerance: Tolerance, layout: tuple[str, tuple[int, ...]]
    ) -> TensorDiff | None:
        """The pair in pieces; None where it must be compared whole instead."""
        import torch

        rb, rc = self.rb, self.rc
        dtype = getattr(torch, layout[0])
        itemsize = torch.empty(0, dtype=dtype).element_size()
        size = rb.nbytes(key)
        piece_b, piece_c = self._pieces()
        crc_b = crc_c = 0
        # The elements of the equal pieces before the first differing one, and the Fold
        # the differing ones go through (made at the first: equal pairs never need one).
        equal_before, fold = 0, None
        try:
            for start in range(0, size, _PIECE):
                n = min(_PIECE, size - start)
                pb, pc = piece_b.tensor[:n], piece_c.tensor[:n]
                rb.read_range(key, start, pb)
                before, crc_b = crc_b, crc32(piece_b.view[:n], crc_b)  # while it is in cache
                rc.read_range(key, start, pc)
                if same_bytes(pb, pc):
                    if fold is None:
                        crc_c = crc_b
                        equal_before += n // itemsize
                    else:
                        crc_c = crc32(piece_c.view[:n], crc_c)
                        fold.equal(n // itemsize)
                    continue
                if fold is None:  # the first differing piece: every earlier one was equal
                    if not _fused.supports(dtype):
                        return None  # compared whole, by the torch path
                    fold = _fused.Fold(dtype, tolerance.rtol, tolerance.atol)
                    fold.equal(equal_before)
                    crc_c = before
                crc_c = crc32(piece_c.view[:n], crc_c)
                if not fold.add(pb.data_ptr(), pc.data_ptr(), n // itemsize, start // itemsize):
                    return None  # NaN or Inf where they differ: compared whole
            rb.check_crc(key, crc_b)  # a corrupt artifact is an error, never a verdict
            rc.check_crc(key, crc_c)
            folded = None if fold is None else fold.finish()
        finally:
            if fold is not None:
                fold.close()
        return folded_diff(full, dtype, layout[1], tolerance, folded)

    def _whole(
        self,
        full: str,
        key: str,
        tolerance: Tolerance,
        buffers: tuple[torch.Tensor, torch.Tensor],
    ) -> TensorDiff:
        rb, rc = self.rb, self.rc
        raw_b = rb.read_raw(key, buffers[0])
        rb.verify(key, raw_b)
        raw_c = rc.read_raw(key, buffers[1])
        recorded = rb.recorded_digest(key)
        same = None
        if recorded is not None and recorded == rc.recorded_digest(key):
            same = same_bytes(raw_b, raw_c)  # equal bytes: the baseline's check vouches
        if not same:
            rc.verify(key, raw_c)
        bt = _checked(rb, self.records[0], key, rb.as_tensor(key, raw_b))
        ct = _checked(rc, self.records[1], key, rc.as_tensor(key, raw_c))
        return compare_tensors(full, bt, ct, tolerance, bits_equal=same)


def _digest_task(
    full: str,
    key: str,
    *,
    runs: tuple[Run, Run],
    readers: tuple[TensorReader, TensorReader],
    records: tuple[ScenarioRecord, ScenarioRecord],
    name: str,
) -> Callable[[], TensorDiff]:
    def task() -> TensorDiff:
        infos = records[0].tensors[key], records[1].tensors[key]
        dtype = dtype_name(infos[0].dtype)
        shape = tuple(infos[0].shape)
        mismatch = layout_mismatch(
            full, (dtype, dtype_name(infos[1].dtype)), (shape, tuple(infos[1].shape))
        )
        if mismatch is not None:
            return mismatch
        digests = [
            _digest_of(run, reader, name, key) for run, reader in zip(runs, readers, strict=True)
        ]
        status: TensorStatus = "equal" if digests[0] == digests[1] else "digest_differs"
        return TensorDiff(key=full, status=status, dtype=dtype, shape=shape, numel=math.prod(shape))

    return task


def _digest_of(run: Run, reader: TensorReader, name: str, key: str) -> str:
    """The stored digest of ``key`` (checked against the data where the run holds it)."""
    from reprocheck.artifacts.verify import stored_digest

    recorded = reader.recorded_digest(key) or run.records[name].tensors[key].digest
    if run.stored(name, key):
        raw = reader.read_raw(key)
        reader.verify(key, raw)
        return recorded or stored_digest(raw)
    if recorded is None:
        raise ArtifactError(f"{run.path}: tensor {key!r} of {name!r} has neither data nor digest")
    return recorded


def _checked(
    reader: TensorReader, record: ScenarioRecord, key: str, tensor: torch.Tensor
) -> torch.Tensor:
    """``tensor``, checked against the shape and dtype its record declares."""
    info = record.tensors[key]
    if tuple(tensor.shape) != tuple(info.shape) or dtype_name(tensor.dtype) != dtype_name(
        info.dtype
    ):
        raise ArtifactError(
            f"{reader.path}: tensor {key!r} is {dtype_name(tensor.dtype)}"
            f"{list(tensor.shape)}, its record declares {dtype_name(info.dtype)}"
            f"{list(info.shape)} (an inconsistent artifact)"
        )
    return tensor
