"""The final tensors of one scenario in two runs: read, verified and compared.

Pairs are compared one after another: torch's kernels already run on every core (its
intra-op threads), and two comparisons at once oversubscribe them — measured on a 67M
GPT's 640 tensors on 2 cores, a pool of two comparisons took 2.5 s against 1.7 s for
one at a time (dense differences) and 0.47 s against 0.41 s (identical runs). Within a
large pair, the candidate's read and checksum run on a helper thread beside the
baseline's and beside the comparison (reads and CRC-32 release the GIL). Both sides are
read into reused buffers, so memory stays bounded by the largest pair. Where both
records hold the same digest and the bytes are bitwise equal, one side's check vouches
for both (equal bytes have equal CRCs), which keeps identical runs at one checksum pass.

A lean run (``--keep params|digests``) holds some tensors as digests only: those compare
bitwise, by digest (``equal`` or ``digest_differs``), against whatever the other run holds.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

from reprocheck.comparison._bits import same_bytes
from reprocheck.comparison.numerics import (
    TensorDiff,
    TensorStatus,
    compare_tensors,
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

#: A pair at least this large reads, checks and compares its two sides on two threads.
_SPLIT = 1 << 20


def dtype_name(dtype: object) -> str:
    """``torch.float32`` or ``"float32"`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def workers() -> int:
    """Helper threads for reading and checking: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def compare_final_tensors(
    name: str, run_b: Run, run_c: Run, c: ScenarioRecord, policy: Policy
) -> tuple[list[TensorDiff], int]:
    """Every final tensor of scenario ``name``; returns the diffs (in record order) and
    how many were compared by digest only (a lean run held no data for them)."""
    b = run_b.records[name]
    keys = list(b.tensors) + [k for k in c.tensors if k not in b.tensors]
    by_digest = 0
    tasks: list[Callable[[], TensorDiff]] = []
    with (
        run_b.open_tensors(name) as rb,
        run_c.open_tensors(name) as rc,
        ThreadPoolExecutor(max_workers=workers()) as helpers,
    ):
        largest = max(
            (
                2 * rb.nbytes(k)
                for k in keys
                if run_b.stored(name, k) and run_c.stored(name, k) and k in c.tensors
            ),
            default=0,
        )
        pair = _Pair(rb, rc, (b, c), _Buffers(largest), helpers)
        for key in keys:
            full = f"{name}/{key}"
            info = b.tensors.get(key) or c.tensors[key]
            tolerance = policy.tolerance_for(full, dtype_name(info.dtype))
            if key not in c.tensors or key not in b.tensors:
                tasks.append(_missing_task(full, key not in c.tensors, info, tolerance))
            elif run_b.stored(name, key) and run_c.stored(name, key):
                tasks.append(functools.partial(pair.compare, full, key, tolerance))
            else:
                by_digest += 1
                tasks.append(
                    _digest_task(
                        full, key, runs=(run_b, run_c), readers=(rb, rc), records=(b, c), name=name
                    )
                )
        diffs = [task() for task in tasks]
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


class _Pair:
    """Compares one tensor stored in both runs (see the module docstring)."""

    def __init__(
        self,
        rb: TensorReader,
        rc: TensorReader,
        records: tuple[ScenarioRecord, ScenarioRecord],
        buffers: _Buffers,
        helpers: ThreadPoolExecutor,
    ) -> None:
        self.rb, self.rc, self.records = rb, rc, records
        self.buffers, self.helpers = buffers, helpers

    def compare(self, full: str, key: str, tolerance: Tolerance) -> TensorDiff:
        size = self.rb.nbytes(key)
        buffers = (self.buffers.take(size), self.buffers.take(size))
        try:
            return self._compare(full, key, tolerance, buffers, split=size >= _SPLIT)
        finally:
            for buffer in buffers:
                self.buffers.give(buffer)

    def _compare(
        self,
        full: str,
        key: str,
        tolerance: Tolerance,
        buffers: tuple[torch.Tensor, torch.Tensor],
        *,
        split: bool,
    ) -> TensorDiff:
        rb, rc = self.rb, self.rc
        later = self.helpers.submit(rc.read_raw, key, buffers[1]) if split else None
        raw_b = rb.read_raw(key, buffers[0])
        rb.verify(key, raw_b)
        raw_c = rc.read_raw(key, buffers[1]) if later is None else later.result()
        recorded = rb.recorded_digest(key)
        check: Future[None] | None = None
        same = None
        if recorded is not None and recorded == rc.recorded_digest(key):
            same = same_bytes(raw_b, raw_c)
        if not same:
            if split:
                check = self.helpers.submit(rc.verify, key, raw_c)
            else:
                rc.verify(key, raw_c)
        bt = _checked(rb, self.records[0], key, rb.as_tensor(key, raw_b))
        ct = _checked(rc, self.records[1], key, rc.as_tensor(key, raw_c))
        diff = compare_tensors(full, bt, ct, tolerance, bits_equal=same)
        if check is not None:
            check.result()  # a corrupt candidate is an error, never a verdict
        return diff


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
