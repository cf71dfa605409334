"""Digests of tensors, without numpy, and the size of the trace's strided sample.

A digest is a checksum of dtype, shape and the raw bytes, read in place (no copy): any
change of the bytes changes it, up to a CRC-32 collision (one chance in 2**32 per pair
of differing tensors). It is taken for every parameter and gradient at every step, so it
must cost little beside the step itself: CRC-32 runs at several GB/s here, BLAKE2b and
SHA-256 at well under 1 GB/s, which made recording cost 20-100% of a small step. The
digests only localize *where* runs part; the final tensors are compared exactly from
their safetensors files. A sparse tensor is digested coalesced (duplicate indices summed,
indices sorted): its layout, then its indices' bytes, then its values' bytes, so two
sparse tensors that hold the same numbers digest alike however they were assembled, and
a sparse tensor never digests like the dense tensor of the same numbers. The operator
trace's summaries (absmax, mean, a strided sample of :data:`SAMPLE_SIZE` elements,
taken in :mod:`reprocheck.replay.trace_digest`) let compare judge *how far* two outputs
differ without storing activations.
"""

from __future__ import annotations

import ctypes
import functools
from typing import TYPE_CHECKING

from reprocheck._crc import crc32

if TYPE_CHECKING:
    import torch

__all__ = ["SAMPLE_SIZE", "dense_parts", "dtype_name", "tensor_bytes", "tensor_digest"]

SAMPLE_SIZE = 8


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``: how every artifact and report names a dtype."""
    return str(dtype).removeprefix("torch.")


def dense_parts(tensor: torch.Tensor) -> tuple[str, list[torch.Tensor]]:
    """``(layout, parts)``: the dense, contiguous CPU tensors that hold ``tensor``'s numbers.

    A strided tensor is its own one part (layout ``"strided"``). A sparse tensor (COO, or
    CSR/CSC/BSR/BSC converted to COO) is coalesced and gives two parts, its indices and
    its values (layout ``"sparse_coo"``).
    """
    import torch

    t = tensor.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.layout == torch.strided:
        return "strided", [t.contiguous()]
    if t.layout != torch.sparse_coo:
        t = t.to_sparse()  # CSR, CSC, BSR, BSC: their COO form
    t = t.coalesce()
    return "sparse_coo", [t.indices().contiguous(), t.values().contiguous()]


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    """The tensor's elements as raw bytes, in row-major order, copied to the CPU.

    For a sparse tensor: its coalesced indices' bytes, then its values' bytes.
    """
    return b"".join(_raw(part) for part in dense_parts(tensor)[1])


def _raw(t: torch.Tensor) -> bytes:
    n = t.numel() * t.element_size()
    if n == 0:
        return b""
    # One memcpy through ctypes: exact, fast, and no numpy (torch does not require it).
    return ctypes.string_at(t.data_ptr(), n)


@functools.lru_cache(maxsize=4096)
def _header_crc(dtype: object, shape: tuple[int, ...], layout: str = "strided") -> int:
    # The same parameters are digested every step: compute each header's CRC once.
    # A strided tensor's header is unchanged from before sparse tensors were digested.
    head = f"{dtype}|{shape}|" if layout == "strided" else f"{dtype}|{shape}|{layout}|"
    return crc32(head.encode())


def tensor_digest(tensor: torch.Tensor) -> str:
    """A hex checksum of dtype, shape and contents (CRC-32 of the header, then the bytes).

    A sparse tensor's header also names its layout, and its bytes are its coalesced
    indices' then its values' (see :func:`dense_parts`).
    """
    layout, parts = dense_parts(tensor)
    crc = _header_crc(tensor.dtype, tuple(tensor.shape), layout)
    total = 0
    for t in parts:
        n = t.numel() * t.element_size()
        if n:
            # Read the tensor's memory in place: `t` stays referenced while zlib reads it.
            crc = crc32((ctypes.c_char * n).from_address(t.data_ptr()), crc)
        total += n
    return f"{crc:08x}{total:x}"
