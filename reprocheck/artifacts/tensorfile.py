"""Read safetensors files: every header rule checked first, then one tensor at a time.

safetensors is a data-only format (no code runs on load), but a file that arrives from
another machine may still lie: a header length past the end of the file, a tensor whose
bytes lie outside the data region or overlap another's, a dtype that does not exist, a
shape whose size does not match its bytes. Every rule is checked here in Python on the
header alone (at most :data:`MAX_HEADER_BYTES` are read, nothing is allocated for the
tensors), and each failure is a one-line :class:`~reprocheck.errors.ArtifactError` naming
the file, the tensor and the rule. :class:`TensorReader` then reads one tensor's bytes at
a time (the safetensors library writes the files; reading needs no more than this).

Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header
length N, N bytes of UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin,
end]}, "__metadata__": {str: str}}``, then the data region; offsets are relative to its
start, and the tensors tile it exactly (no gap, no overlap, nothing after the last).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._schema import SURROGATE_ESCAPE, find_lone_surrogate
from reprocheck.artifacts.checksum import crc32, format_digest
from reprocheck.errors import ArtifactError

if TYPE_CHECKING:
    import torch

__all__ = [
    "CORRUPT_HINT",
    "DTYPES",
    "MAX_HEADER_BYTES",
    "TensorEntry",
    "check_regular_file",
    "header_digest",
    "read_header",
    "read_header_and_digest",
    "storable",
]

#: The safetensors reference implementation refuses larger headers too.
MAX_HEADER_BYTES = 100 * 1000 * 1000

#: safetensors dtype -> (torch dtype name, bytes per element); the dtypes torch can load.
DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 1),
    "U8": ("uint8", 1),
    "I8": ("int8", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 1),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 1),
    "I16": ("int16", 2),
    "U16": ("uint16", 2),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I32": ("int32", 4),
    "U32": ("uint32", 4),
    "F32": ("float32", 4),
    "C64": ("complex64", 8),
    "I64": ("int64", 8),
    "U64": ("uint64", 8),
    "F64": ("float64", 8),
}
CORRUPT_HINT = "The file changed after the run was written: copy the run again, or re-run it."
_ENTRY_KEYS = frozenset({"dtype", "shape", "data_offsets"})


@dataclasses.dataclass(frozen=True, slots=True)
class TensorEntry:
    """One tensor as the header declares it (checked against the file's size)."""

    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    offset: int = 0  # where its bytes start in the file


def check_regular_file(path: Path, what: str) -> None:
    """Refuse a missing path, a symbolic link, or anything but a regular file.

    A FIFO or a device would block or never end when read; a symbolic link may lead out
    of the artifact, and nothing reprocheck writes is one.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ArtifactError(f"{what} {path} is missing") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(mode):
        raise ArtifactError(f"{what} {path} is a symbolic link; an artifact holds plain files only")
    if not stat.S_ISREG(mode):
        raise ArtifactError(f"{what} {path} is not a regular file")


def read_header(path: Path) -> dict[str, TensorEntry]:
    """Read and check the header of the safetensors file ``path``.

    Returns:
        Tensor name -> its dtype (torch name), shape and byte length, in file order.

    Raises:
        ArtifactError: the file is not a regular file, or its header breaks a rule above.
    """
    return read_header_and_digest(path)[0]


def header_digest(path: Path) -> str:
    """``"crc32:<8 hex>"`` of the file's first 8 bytes and header (what a run records)."""
    return read_header_and_digest(path)[1]


def read_header_and_digest(path: Path) -> tuple[dict[str, TensorEntry], str]:
    check_regular_file(path, "tensor file")
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ArtifactError(
                    f"tensor file {path} is {size} bytes, too short for a safetensors header"
                )
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES:
                raise ArtifactError(
                    f"tensor file {path} claims a {length}-byte header, more than the "
                    f"{MAX_HEADER_BYTES}-byte limit (corrupt?)"
                )
            if 8 + length > size:
                raise ArtifactError(
                    f"tensor file {path} claims a {length}-byte header but holds "
                    f"{size} bytes (truncated?)"
                )
            raw = handle.read(length)
    except OSError as exc:
        raise ArtifactError(f"cannot read tensor file {path}: {exc.strerror or exc}") from None
    header = _parse(raw, path)
    entries = _check_layout(header, size - 8 - length, path)
    digest = format_digest(crc32(raw, crc32(prefix)))
    return {
        name: dataclasses.replace(entry, offset=8 + length + entry.offset)
        for name, entry in entries.items()
    }, digest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token}")


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    where = f"tensor file {path}"
    try:
        header = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except UnicodeDecodeError:
        raise ArtifactError(f"{where}: the header is not UTF-8 (corrupt?)") from None
    except RecursionError:
        raise ArtifactError(f"{where}: the header nests too deeply (corrupt?)") from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, NaN tokens, huge integers
        raise ArtifactError(f"{where}: the header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ArtifactError(f"{where}: the header is not a JSON object")
    bad = find_lone_surrogate(header) if SURROGATE_ESCAPE.search(raw) else None
    if bad is not None:
        raise ArtifactError(f"{where}: the header holds a name that is not valid Unicode: {bad}")
    meta = header.pop("__metadata__", None)
    if meta is not None and (
        not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())
    ):
        raise ArtifactError(f"{where}: __metadata__ must map strings to strings")
    return header


def _entry(name: str, value: Any, where: str) -> tuple[TensorEntry, int, int]:
    here = f"{where}: tensor {name!r}"
    if not isinstance(value, dict) or set(value) != _ENTRY_KEYS:
        raise ArtifactError(f"{here} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ArtifactError(f"{here} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise ArtifactError(f"{here}: shape must be a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(o) for o in offsets):
        raise ArtifactError(f"{here}: data_offsets must be two non-negative integers")
    begin, end = offsets
    if end < begin:
        raise ArtifactError(f"{here}: data_offsets [{begin}, {end}] run backwards")
    torch_name, itemsize = DTYPES[dtype]
    nbytes = math.prod(shape) * itemsize
    if nbytes != end - begin:
        raise ArtifactError(
            f"{here}: shape {shape} of {dtype} needs {nbytes} bytes, "
            f"its data_offsets span {end - begin}"
        )
    return TensorEntry(torch_name, tuple(shape), nbytes, begin), begin, end


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_layout(header: dict[str, Any], data_len: int, path: Path) -> dict[str, TensorEntry]:
    where = f"tensor file {path}"
    entries: dict[str, TensorEntry] = {}
    spans: list[tuple[int, int, str]] = []
    for name, value in header.items():
        entry, begin, end = _entry(name, value, where)
        if end > data_len:
            raise ArtifactError(
                f"{where}: tensor {name!r} ends at byte {end} of a {data_len}-byte data region "
                "(truncated, or offsets past the end)"
            )
        entries[name] = entry
        spans.append((begin, end, name))
    # The tensors must tile the data region: sorted by offset, each starts where the
    # previous one ended, and the last ends at the end of the file.
    position, previous = 0, None
    for begin, end, name in sorted(spans):
        if begin < position:
            raise ArtifactError(f"{where}: tensors {previous!r} and {name!r} overlap")
        if begin > position:
            raise ArtifactError(
                f"{where}: {begin - position} unclaimed bytes before tensor {name!r}"
            )
        position, previous = end, name
    if position != data_len:
        raise ArtifactError(
            f"{where}: {data_len - position} bytes after the last tensor (corrupt?)"
        )
    return entries


def storable(tensor: torch.Tensor) -> torch.Tensor:
    """A dense, contiguous, unshared CPU copy of ``tensor``: what safetensors can hold.

    safetensors has no sparse layout: a sparse tensor is stored densified (coalesced, so
    duplicate indices are summed); the record's ``TensorInfo.layout`` keeps its layout.
    """
    import torch

    t = tensor.detach().to("cpu")
    if t.layout != torch.strided:
        return t.to_dense().contiguous()
    return t.contiguous().clone()
