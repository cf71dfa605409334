"""Checksums of stored bytes: how a run proves its tensor files were not corrupted.

Every tensor a run stores has a digest of its bytes as stored (``"crc32:<8 hex>"``, the
CRC-32 of zlib and gzip) in its record, and every tensor file the CRC-32 of its header
in the run manifest; readers check both (:mod:`reprocheck.artifacts.tensorfile`). CRC-32
detects every flipped bit and every burst of up to 32 bits, which is what a disk, a
network copy or a stray write does to a file; it is no defence against someone forging
a file (runs are not signed). python-isal computes the same CRC-32 at memory speed
(several GB/s, releasing the GIL); the standard library's zlib is used where it is not
installed (about 1 GB/s).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

__all__ = ["PREFIX", "crc32", "format_digest"]

PREFIX = "crc32:"

_crc: Callable[[bytes | bytearray | memoryview, int], int]
try:  # the same polynomial and result as zlib's, several times faster
    from isal import isal_zlib

    _crc = isal_zlib.crc32
except ImportError:  # pragma: no cover - isal is a dependency where it installs
    _crc = zlib.crc32


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC-32 of ``data`` (continuing from ``value``), exactly as :func:`zlib.crc32`."""
    return _crc(data, value) & 0xFFFFFFFF


def format_digest(value: int) -> str:
    """``"crc32:0a1b2c3d"``: how a stored digest is written."""
    return f"{PREFIX}{value:08x}"
