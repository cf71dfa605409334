"""Digests of tensors, without numpy, and the size of the trace's strided sample.

A digest is a checksum of dtype, shape and the raw bytes, read in place (no copy): any
change of the bytes changes it, up to a CRC-32 collision (one chance in 2**32 per pair
of differing tensors). It is taken for every parameter and gradient at every step, so it
must cost little beside the step itself: CRC-32 runs at several GB/s here, BLAKE2b and
SHA-256 at well under 1 GB/s, which made recording cost 20-100% of a small step. The
digests only localize *where* runs part; the final tensors are compared exactly from
their safetensors files. The operator trace's summaries (absmax, mean, a strided sample of
:data:`SAMPLE_SIZE` elements, taken in :mod:`reprocheck.replay.trace_digest`) let compare
judge *how far* two outputs differ without storing activations.
"""

from __future__ import annotations

import ctypes
import functools
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["SAMPLE_SIZE", "dtype_name", "tensor_bytes", "tensor_digest"]

SAMPLE_SIZE = 8


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``: how every artifact and report names a dtype."""
    return str(dtype).removeprefix("torch.")


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    """The tensor's elements as raw bytes, in row-major order, copied to the CPU."""
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    n = t.numel() * t.element_size()
    if n == 0:
        return b""
    # One memcpy through ctypes: exact, fast, and no numpy (torch does not require it).
    return ctypes.string_at(t.data_ptr(), n)


@functools.lru_cache(maxsize=4096)
def _header_crc(dtype: object, shape: tuple[int, ...]) -> int:
    # The same parameters are digested every step: compute each header's CRC once.
    return zlib.crc32(f"{dtype}|{shape}|".encode())


def tensor_digest(tensor: torch.Tensor) -> str:
    """A hex checksum of dtype, shape and contents (CRC-32 of the header, then the bytes)."""
    crc = _header_crc(tensor.dtype, tuple(tensor.shape))
    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    n = t.numel() * t.element_size()
    if n:
        # Read the tensor's memory in place: `t` stays referenced while zlib reads it.
        crc = zlib.crc32((ctypes.c_char * n).from_address(t.data_ptr()), crc)
    return f"{crc:08x}{n:x}"
