"""Bit-level helpers for the comparison maths: integer views of floats, ULP distance,
ULP bucketing and fast scans for differing elements. torch is imported lazily.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import torch

__all__ = [
    "BUCKET_LOW",
    "INT64_MAX",
    "ULP_EXACT_LIMIT",
    "bits_of",
    "int_dtype",
    "isnan",
    "lowered",
    "positions",
    "same_bytes",
    "torch_cat",
    "ulp_from_bits",
]

ULP_EXACT_LIMIT = 1 << 16
INT64_MAX = (1 << 63) - 1
# Log2 buckets above the exact range: bucket k holds [2**(16+k), 2**(17+k)); the last
# one is open-ended.
BUCKET_LOW = tuple(1 << e for e in range(16, 63))


def int_dtype(itemsize: int) -> torch.dtype:
    """The signed integer dtype with ``itemsize`` bytes (a bit view of a float)."""
    import torch

    return {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[itemsize]


def isnan(t: torch.Tensor) -> torch.Tensor:
    """``t.isnan()``, also for float8 (which lacks the kernel on some versions)."""
    return (t.float() if t.is_floating_point() and t.element_size() == 1 else t).isnan()


def _ordered(bits: torch.Tensor) -> torch.Tensor:
    """Float bits (a signed int view) -> int64 ordered like the floats; +0 and -0 -> 0."""
    import torch

    width = 8 * bits.element_size()
    wide = bits.to(torch.int64)
    if width == 64:  # handled by ulp_from_bits without negation (it could overflow)
        return wide
    # A negative float's bits read as -2**(w-1) + magnitude; its ordered value is -magnitude.
    return torch.where(wide < 0, wide.add(1 << (width - 1)).neg_(), wide)


def ulp_from_bits(a_bits: torch.Tensor, b_bits: torch.Tensor) -> torch.Tensor:
    """Elementwise ULP distance (int64) of two same-width signed-integer views of floats.

    NaN patterns are not special here: callers mask NaN positions.
    """
    import torch

    if a_bits.element_size() < 8:
        return (_ordered(a_bits) - _ordered(b_bits)).abs_()
    magnitude_mask = INT64_MAX
    a_mag = a_bits & magnitude_mask
    b_mag = b_bits & magnitude_mask
    same_sign = (a_bits < 0) == (b_bits < 0)
    # Across zero the distance is the sum of both magnitudes, which can overflow int64
    # (it wraps negative): saturate.
    dist = torch.where(same_sign, (a_mag - b_mag).abs(), a_mag + b_mag)
    return torch.where(dist < 0, torch.full_like(dist, INT64_MAX), dist)


def torch_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat`` (imported lazily)."""
    import torch

    return torch.cat(parts)


def lowered(values: torch.Tensor) -> torch.Tensor:
    """Distances from 2**16 up replaced by their log2 bucket's lower bound."""
    import torch

    large = values >= ULP_EXACT_LIMIT
    if not bool(large.any()):
        return values
    low = torch.tensor(BUCKET_LOW, dtype=torch.int64)
    out = values.clone()
    out[large] = low[torch.bucketize(values[large], low, right=True) - 1]
    return out


def bits_of(t: torch.Tensor, kind: str) -> torch.Tensor:
    """A signed-integer view of a flat tensor's bits (complex: ``(n, 2)``; exact: itself)."""
    import torch

    if kind == "exact":
        return t
    if kind == "complex":
        real = torch.view_as_real(t)
        return real.view(int_dtype(real.element_size()))
    return t.view(int_dtype(t.element_size()))


@functools.cache
def _memcmp() -> Callable[[int, int, int], int] | None:
    """The C library's memcmp (None where ctypes cannot find it)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        memcmp = libc.memcmp
    except (OSError, AttributeError, TypeError):  # pragma: no cover - no C library found
        return None
    memcmp.restype = ctypes.c_int
    memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return cast("Callable[[int, int, int], int]", memcmp)


def same_bytes(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors of one dtype and shape hold the same bytes (bitwise equal).

    For contiguous CPU tensors one ``memcmp`` (memory speed, GIL released: here 5-10x
    faster than ``torch.equal``, which this is equivalent to on integer bit views);
    ``torch.equal`` of the integer bit views otherwise.
    """
    import torch

    n = a.numel() * a.element_size()
    memcmp = _memcmp()
    if (
        memcmp is not None
        and a.device.type == b.device.type == "cpu"
        and a.is_contiguous()
        and b.is_contiguous()
        and n == b.numel() * b.element_size()
    ):
        return n == 0 or memcmp(a.data_ptr(), b.data_ptr(), n) == 0
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(a.view(torch.uint8), b.view(torch.uint8)))
    return bool(torch.equal(a, b))


_ROW = 1024


def first_argmax(values: torch.Tensor) -> int:
    """``int(values.argmax())`` of a 1-D tensor (the first largest; a NaN counts as largest).

    torch's argmax is a scalar loop (465 us for 2**18 floats here against 19 us for
    amax), so a long tensor is viewed as rows: the first row holding the largest value
    (vectorized row maxima), then the first position inside it, then the tail that fills
    no row.
    """
    n = values.numel()
    if n < 4 * _ROW:
        return int(values.argmax())
    body = n - n % _ROW
    rows = values[:body].view(-1, _ROW)
    row = int(rows.amax(1).argmax())
    at = row * _ROW + int(rows[row].argmax())
    if body == n:
        return at
    best, tail = float(values[at]), values[body:]
    tail_best = float(tail.amax())
    if tail_best > best or (math.isnan(tail_best) and not math.isnan(best)):
        return body + int(tail.argmax())
    return at


def positions(flags: torch.Tensor) -> torch.Tensor:
    """Indices of the True entries of a 1-D bool tensor (``flags.nonzero()``, faster).

    Differences are usually rare: scan the flags eight at a time as int64 words, then
    look inside the nonzero words only.
    """
    import torch

    if flags.numel() % 8:
        return flags.nonzero().squeeze(1)
    words = flags.view(torch.int64).nonzero().squeeze(1)
    inside = flags.view(-1, 8).index_select(0, words).nonzero()
    return words[inside[:, 0]] * 8 + inside[:, 1]
