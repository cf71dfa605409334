"""Digests of the tensors a run stores, taken as they are written (see checksum.py)."""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reprocheck.artifacts.checksum import crc32, format_digest
from reprocheck.model.records import ScenarioRecord

if TYPE_CHECKING:
    import torch

__all__ = ["stored_digest", "with_digests"]


def stored_digest(tensor: torch.Tensor) -> str:
    """``"crc32:<8 hex>"`` of a dense, contiguous CPU tensor's bytes (as safetensors stores
    them on a little-endian machine)."""
    n = tensor.numel() * tensor.element_size()
    if n == 0:
        return format_digest(crc32(b""))
    view = memoryview((ctypes.c_char * n).from_address(tensor.data_ptr())).cast("B")
    return format_digest(crc32(view))


def with_digests(record: ScenarioRecord, cpu: Mapping[str, torch.Tensor]) -> ScenarioRecord:
    """``record`` with each stored tensor's digest in ``record.tensors``."""
    infos = {
        key: dataclasses.replace(info, digest=stored_digest(cpu[key])) if key in cpu else info
        for key, info in record.tensors.items()
    }
    return dataclasses.replace(record, tensors=infos)
