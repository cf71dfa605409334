"""Reading a run's tensors one at a time, each checked against its record and its digest.

The header rules are :mod:`reprocheck.artifacts.tensorfile`'s; this is the reader built
on them (the safetensors library writes the files; reading needs no more than this).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.artifacts.checksum import crc32, format_digest
from reprocheck.artifacts.tensorfile import CORRUPT_HINT, TensorEntry, read_header_and_digest
from reprocheck.errors import ArtifactError

if TYPE_CHECKING:
    import torch

__all__ = ["TensorReader", "raw_bytes"]

#: One read at most this long (Linux reads at most about 2 GiB per call).
_READ_CHUNK = 1 << 30


class TensorReader:
    """Lazy, read-only access to one scenario's final tensors, one tensor at a time.

    The header is checked by :func:`read_header` first (and against ``header_digest``,
    the CRC-32 its run recorded, when given); each tensor is then checked against its
    record and this machine's memory, read with positioned reads straight into the
    tensor's own memory (no intermediate buffer, nothing zero-filled first), and its
    bytes checked against the digest its record holds (``TensorInfo.digest``): a flipped
    bit is an :class:`~reprocheck.errors.ArtifactError` naming the file and the tensor,
    never a number. No memory map: mapped pages of the tensors already compared would
    stay resident in the process until the file closes, so peak memory would grow with
    the file, not with the largest tensor. Reads and checksums release the GIL, so
    several threads may read tensors of one reader at once. Nothing in a safetensors
    file is code; the bytes become a tensor of the checked dtype and shape, nothing else.
    """

    def __init__(
        self, path: Path, expected: Mapping[str, Any], *, header_digest: str | None = None
    ) -> None:
        self.path = path
        self._entries, digest = read_header_and_digest(path)
        self._expected = expected
        for key, entry in self._entries.items():
            self._check_size(key, entry)
        # After the rules above, which name what is wrong where they can: a header that
        # breaks none but is not the one written (a flipped bit in a name or in the
        # metadata) is caught here.
        if header_digest is not None and digest != header_digest:
            raise ArtifactError(
                f"corrupt artifact: tensor file {path}: its header does not match the digest "
                f"its run recorded ({digest}, recorded {header_digest})",
                hint=CORRUPT_HINT,
            )
        missing = sorted(set(expected) - set(self._entries))
        if missing:
            raise ArtifactError(
                f"tensor file {path} lacks tensor {missing[0]!r} named in its record"
            )
        self._fd: int | None = None
        self._fd_lock = threading.Lock()

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file :meth:`read_range` keeps open (reading again reopens it)."""
        with self._fd_lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def dtype_and_shape(self, key: str) -> tuple[str, tuple[int, ...]]:
        """Tensor ``key``'s dtype name and shape, as its header declares (and its record)."""
        entry = self._entry(key)
        return entry.dtype, tuple(entry.shape)

    def read_range(self, key: str, start: int, out: torch.Tensor) -> None:
        """Bytes ``[start, start + out.numel())`` of tensor ``key`` into ``out`` (uint8,
        contiguous): one piece of a tensor read in pieces, not yet checked against its
        digest (the caller carries a CRC-32 over the pieces to :meth:`check_crc`).

        One positioned read on a descriptor kept open until :meth:`close`; several
        threads may read at once (no shared file position).
        """
        entry = self._entry(key)
        n = out.numel()
        if start < 0 or start + n > entry.nbytes:
            raise ValueError(f"bytes {start}..{start + n} lie outside tensor {key!r}")
        if n:
            self._pread(key, entry.offset + start, raw_bytes(out))

    def check_crc(self, key: str, value: int) -> None:
        """Check the CRC-32 of tensor ``key``'s bytes, computed by the caller, against the
        record's digest (if it holds one); raises like :meth:`verify`."""
        recorded = self.recorded_digest(key)
        if recorded is None:
            return
        digest = format_digest(value)
        if digest != recorded:
            raise ArtifactError(
                f"corrupt artifact: tensor {key!r} in {self.path} does not match the "
                f"digest its record holds ({digest}, recorded {recorded})",
                hint=CORRUPT_HINT,
            )

    def _descriptor(self) -> int:
        with self._fd_lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            return self._fd

    def keys(self) -> list[str]:
        """Tensor names, sorted."""
        return sorted(self._entries)

    def get(self, key: str) -> torch.Tensor:
        """Load one tensor (after checking it against its record and its digest)."""
        raw = self.read_raw(key)
        self.verify(key, raw)
        return self.as_tensor(key, raw)

    def nbytes(self, key: str) -> int:
        """How many bytes tensor ``key`` holds in the file."""
        return self._entry(key).nbytes

    def read_raw(self, key: str, into: torch.Tensor | None = None) -> torch.Tensor:
        """One tensor's bytes as stored (a uint8 tensor), not yet checked against its digest.

        For a caller that checks the digest itself (:meth:`verify`), e.g. once for two
        runs' bitwise-equal tensors; :meth:`get` does both. ``into``: a contiguous uint8
        buffer of at least that many bytes to read into (reused memory is already mapped,
        so reading into it skips the page faults of a fresh allocation); the result is
        a view of it.
        """
        import torch

        entry = self._entry(key)
        if into is not None and into.numel() >= entry.nbytes:
            out = into[: entry.nbytes]
        else:
            out = torch.empty(entry.nbytes, dtype=torch.uint8)
        if entry.nbytes:
            self._read_into(key, entry, out)
        return out

    def as_tensor(self, key: str, raw: torch.Tensor) -> torch.Tensor:
        """The tensor :meth:`read_raw`'s bytes hold (its dtype and shape; no copy)."""
        import torch

        entry = self._entries[key]
        tensor = raw.view(getattr(torch, entry.dtype)).reshape(entry.shape)
        # safetensors stores little-endian; the bytes were read in native order.
        return tensor if sys.byteorder == "little" else _swap_bytes(tensor)

    def recorded_digest(self, key: str) -> str | None:
        """The digest the record holds for ``key`` (None: a run from before digests)."""
        return getattr(self._expected.get(key), "digest", None)

    def verify(self, key: str, raw: torch.Tensor) -> None:
        """Check :meth:`read_raw`'s bytes against the record's digest (if it holds one).

        Raises:
            ArtifactError: they differ: "corrupt artifact", naming the file and tensor.
        """
        if self.recorded_digest(key) is not None:
            self.check_crc(key, crc32(raw_bytes(raw)))

    def _entry(self, key: str) -> TensorEntry:
        entry = self._entries.get(key)
        if entry is None:
            raise ArtifactError(f"tensor file {self.path} has no tensor {key!r}")
        info = self._expected.get(key)
        if info is not None:
            declared = str(getattr(info, "dtype", "")).removeprefix("torch.")
            shape = tuple(getattr(info, "shape", ()))
            if (entry.dtype, entry.shape) != (declared, shape):
                raise ArtifactError(
                    f"{self.path}: tensor {key!r} is {entry.dtype}{list(entry.shape)}, "
                    f"its record declares {declared}{list(shape)} (an inconsistent artifact)"
                )
        return entry

    def _read_into(self, key: str, entry: TensorEntry, out: torch.Tensor) -> None:
        self._pread(key, entry.offset, raw_bytes(out))

    def _pread(self, key: str, position: int, view: memoryview) -> None:
        """Fill ``view`` from file offset ``position`` (positioned reads, GIL released)."""
        done, n = 0, len(view)
        try:
            fd = self._descriptor()
            while done < n:
                got = os.preadv(fd, [view[done : done + _READ_CHUNK]], position + done)
                if not got:
                    break
                done += got
        except OSError as exc:
            raise ArtifactError(
                f"tensor {key!r} in {self.path} cannot be read: {exc.strerror or exc}"
            ) from None
        if done != n:  # the file shrank since its header was checked
            raise ArtifactError(f"tensor {key!r} in {self.path} is cut short (truncated?)")

    def _check_size(self, key: str, entry: TensorEntry) -> None:
        # Loading copies a tensor into memory: refuse one that cannot fit rather than let
        # the machine swap or the kernel kill the process.
        limit = _memory_limit()
        if limit is not None and entry.nbytes > limit:
            raise ArtifactError(
                f"tensor {key!r} in {self.path} is {entry.nbytes} bytes, more than this "
                f"machine's {limit} bytes of memory",
                hint="Compare this artifact on a machine with more memory.",
            )


def raw_bytes(raw: torch.Tensor) -> memoryview:
    """A writable view of a contiguous uint8 tensor's memory (no copy, no numpy)."""
    if raw.numel() == 0:
        return memoryview(bytearray())
    return memoryview((ctypes.c_char * raw.numel()).from_address(raw.data_ptr())).cast("B")


def _swap_bytes(tensor: torch.Tensor) -> torch.Tensor:  # pragma: no cover - big-endian only
    import torch

    size = tensor.element_size()
    if size == 1:
        return tensor
    raw = tensor.reshape(-1).view(torch.uint8).reshape(-1, size).flip(1).contiguous()
    return raw.view(tensor.dtype).reshape(tensor.shape)


def _memory_limit() -> int | None:
    """Physical memory in bytes, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None
