"""What the operator trace keeps of each output: a cheap digest and a few summary numbers.

The trace sees hundreds of operators per step, most of them fast element-wise kernels, so
hashing every output with BLAKE2b (about 1 GB/s here) would cost several times the step
itself. Instead, per output tensor:

* up to :data:`EXACT_BYTES` (64 KiB), and every non-floating output: the CRC-32 of all
  its bytes (zlib, about 5 GB/s, read in place without a copy): any change of the bytes
  changes it, up to CRC-32 collisions (one in 2**32);
* larger floating outputs: the CRC-32 of a strided subset of about
  :data:`SUBSET_ELEMENTS` elements, plus min and max of *all* elements (vectorised
  reductions the summary needs anyway; not the float sum, whose rounding depends on the
  thread count). A change that spares the subset and moves neither extreme can go unseen
  here; it is still seen by
  the replay loop's exact per-step digests, only not pinned to this operator;
* operators that only make views (``view``, ``t``, ``expand``, ``detach``...) compute no
  new numbers: their digest covers dtype and shape only;
* uninitialised memory (``empty``...): dtype and shape only, since its bytes vary by design;
* sparse outputs (an embedding's sparse gradient): layout and the exact
  :func:`~reprocheck.model.digest.tensor_digest` of the coalesced indices and values.

The digest is then BLAKE2b over dtype, shape and those CRCs, so it is *not* equal to
:func:`reprocheck.model.digest.tensor_digest` of the same tensor. Exact per-step digests
of every parameter and gradient are recorded by the replay loop separately; the trace digest
only has to tell which operator first changed. See ``docs/trace.md``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import math
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as _compat
from reprocheck._crc import crc32
from reprocheck.model.digest import SAMPLE_SIZE, tensor_digest
from reprocheck.model.random_ops import RANDOM_OPS

if TYPE_CHECKING:
    import torch

__all__ = ["EXACT_BYTES", "SUBSET_ELEMENTS", "OpInfo", "crc_of", "describe_outputs", "op_info"]

# Floating outputs above EXACT_BYTES are digested through a strided subset of about
# SUBSET_ELEMENTS elements plus min and max of all of them (see the module docstring).
EXACT_BYTES = 64 * 1024
SUBSET_ELEMENTS = 16 * 1024
# Tensors up to this many elements are summarised in Python (see _float_stats).
_SMALL = 256

# Bookkeeping operators, not maths (``record_function`` markers in optimizers), and
# torch.distributed collectives (DDP's all-reduce): those run asynchronously, so their
# outputs are not final when the dispatcher returns and a digest of them would race.
# What they reduce shows in the gradients, which the step records digest.
_SKIP_NAMESPACES = frozenset({"profiler", "c10d", "_c10d_functional"})
_UNINITIALIZED = frozenset(
    {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted"}
)
# In-place operators whose result does not depend on what their target held (the target's
# bytes are then no input: often uninitialised memory).
_OVERWRITES = frozenset({"fill_", "zero_", "copy_", "set_", "resize_"})
# Views whose schema does not say so (they return fresh-looking tensors that alias).
_HIDDEN_VIEWS = frozenset({"_unsafe_view", "_reshape_alias", "lift_fresh"})

Summary = tuple["float | None", "float | None", "tuple[float, ...]"]


@dataclasses.dataclass(frozen=True, slots=True)
class OpInfo:
    """What the trace needs to know about one operator overload (cached per overload)."""

    name: str
    skip: bool
    view: bool
    uninitialized: bool
    mutated: tuple[tuple[int, str, bool], ...]
    random: bool = False
    overwrites: bool = False


_INFO: dict[Any, OpInfo] = {}


def op_info(func: Any) -> OpInfo:
    """Classify an operator overload once: skipped, view, uninitialised, mutated args."""
    info = _INFO.get(func)
    if info is None:
        name = str(func)
        packet = name.split(".")[1] if name.count(".") >= 1 else name
        info = OpInfo(
            name=name,
            skip=getattr(func, "namespace", "") in _SKIP_NAMESPACES,
            view=packet in _HIDDEN_VIEWS or _compat.op_is_view(func),
            uninitialized=packet in _UNINITIALIZED,
            mutated=_compat.op_mutated_args(func),
            random=packet.rstrip("_") in RANDOM_OPS,
            overwrites=packet.rstrip("_") in RANDOM_OPS or packet in _OVERWRITES,
        )
        _INFO[func] = info
    return info


def describe_outputs(
    tensors: list[torch.Tensor],
    shapes: tuple[tuple[int, ...], ...],
    out: Any,
    info: OpInfo,
    remember: Callable[[torch.Tensor, bytes], None] | None = None,
) -> tuple[str, Summary]:
    """The digest of all outputs together, and the summary of the first floating one.

    ``remember(tensor, content)`` is told each dense output's content bytes, which are
    exactly what :func:`reprocheck.replay.trace_args.describe_args` digests for that
    tensor as an input: the next call reading it reuses them instead of a second pass.
    """
    import torch

    h = hashlib.blake2b(digest_size=16)
    summary: Summary | None = None
    if not tensors:
        # Operators returning a Python number (``.item()``) or nothing at all. Other
        # objects are named by type only: their repr may hold a memory address.
        plain = out is None or isinstance(out, (bool, int, float, complex, str))
        h.update(f"value|{out!r}".encode() if plain else f"object|{type(out).__name__}".encode())
    contents = not (info.view or info.uninitialized)
    for t, shape in zip(tensors, shapes, strict=True):
        h.update(f"{t.dtype}|{shape}|".encode())
        if t.layout != torch.strided and contents and t.device.type != "meta":
            # A sparse output (an embedding's sparse gradient): its layout and the exact
            # digest of its coalesced indices and values; no summary numbers.
            h.update(f"{t.layout}|{tensor_digest(t)}".encode())
            continue
        if not contents or t.layout != torch.strided or t.device.type == "meta":
            continue  # no new numbers (a view), no defined bytes, or no memory to read
        # contiguous(): reshape returns a 1-d strided tensor (x[::2], an expanded scalar)
        # as it is, and _crc reads numel * element_size bytes from the data pointer.
        flat = t.detach().reshape(-1).contiguous()
        n = flat.numel()
        if n == 0:
            continue
        extra = b""
        if flat.is_floating_point():
            low, high, total, sample = _float_stats(flat, n)
            if summary is None:
                finite = math.isfinite(low) and math.isfinite(high)
                summary = (max(-low, high) if finite else math.nan, total / n, sample)
            if n * flat.element_size() > EXACT_BYTES:
                # Large: a strided subset's CRC plus min and max of every element. Not the
                # float sum: its rounding depends on the reduction order (thread count),
                # so equal tensors would get different digests. ``+ 0.0`` folds -0.0 into
                # 0.0, whose pick by min/max is order-dependent too.
                extra = struct.pack("<2d", low + 0.0, high + 0.0)
                flat = flat[:: -(-n // SUBSET_ELEMENTS)].contiguous()
        content = extra + _crc(flat)
        h.update(content)
        if remember is not None:
            remember(t, content)
    return h.hexdigest(), summary or (None, None, ())


def _crc(flat: torch.Tensor) -> bytes:
    """CRC-32 of a contiguous tensor's bytes, read in place (copied once off a GPU)."""
    if flat.device.type != "cpu":
        flat = flat.cpu()
    view = (ctypes.c_char * (flat.numel() * flat.element_size())).from_address(flat.data_ptr())
    crc = crc32(memoryview(view))
    del view  # the ctypes view must not outlive ``flat``
    return b"%08x" % crc


crc_of = _crc


def _float_stats(flat: torch.Tensor, n: int) -> tuple[float, float, float, tuple[float, ...]]:
    """``(min, max, sum, strided sample)`` of a 1-D floating tensor.

    No float64 copy of the tensor (the copy and its passes made the trace several times
    slower than the step it traces): one min/max reduction and a sum accumulated in
    float32 (float64 for float64 tensors). Small tensors are done in Python from one
    ``tolist``: cheaper than three reductions' call overhead.
    """
    import torch

    stride = max(1, n // SAMPLE_SIZE)
    if n <= _SMALL:
        values = flat.tolist()
        total = sum(values)
        if not math.isfinite(total):  # NaN or inf somewhere: min/max would be order-bound
            return math.nan, math.nan, total, tuple(values[::stride][:SAMPLE_SIZE])
        return min(values), max(values), total, tuple(values[::stride][:SAMPLE_SIZE])
    low, high = torch.aminmax(flat)
    acc = torch.float64 if flat.dtype == torch.float64 else torch.float32
    total = float(flat.sum(dtype=acc))
    return float(low), float(high), total, tuple(flat[::stride][:SAMPLE_SIZE].tolist())
