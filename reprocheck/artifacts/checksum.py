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

from reprocheck._crc import crc32

__all__ = ["PREFIX", "crc32", "format_digest"]

PREFIX = "crc32:"


def format_digest(value: int) -> str:
    """``"crc32:0a1b2c3d"``: how a stored digest is written."""
    return f"{PREFIX}{value:08x}"
