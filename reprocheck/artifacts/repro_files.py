"""The files of a reproduction directory (``reprocheck repro BASELINE CANDIDATE -o DIR``).

::

    DIR/repro.py               the script: needs only torch and safetensors
    DIR/repro.json             the call (operator, arguments), the baseline's output digest
    DIR/inputs.safetensors     the operator's input tensors (their storage spans)
    DIR/expected.safetensors   the baseline's outputs, when the capture reproduced them

``repro.json`` has ``schema_version`` and ``kind`` (``reprocheck-repro``) like every
artifact. The directory is built beside ``DIR`` and renamed into place when complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._io import atomic_write_text
from reprocheck.artifacts.jsonfile import check_schema, dumps, load_json
from reprocheck.artifacts.tensorfile import storable
from reprocheck.errors import InputError
from reprocheck.model.formats import SCHEMA_VERSION

if TYPE_CHECKING:
    import torch

__all__ = [
    "EXPECTED",
    "INPUTS",
    "REPRO_JSON",
    "REPRO_KIND",
    "SCRIPT",
    "building",
    "load_repro_json",
    "write_call",
    "write_script",
]

REPRO_KIND = "reprocheck-repro"
REPRO_JSON = "repro.json"
INPUTS = "inputs.safetensors"
EXPECTED = "expected.safetensors"
SCRIPT = "repro.py"


@contextlib.contextmanager
def building(out: Path) -> Iterator[Path]:
    """A hidden directory beside ``out`` to build in; renamed to ``out`` on success.

    Raises:
        InputError: ``out`` is a file or a directory that is not empty.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out} already exists and is not an empty directory",
            hint="Choose a new directory for the reproduction with -o.",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_call(
    directory: Path,
    meta: Mapping[str, Any],
    inputs: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor] | None,
) -> None:
    """Write ``repro.json``, the inputs and (when given) the baseline's outputs."""
    from safetensors.torch import save_file

    save_file({k: storable(v) for k, v in inputs.items()}, str(directory / INPUTS))
    if expected is not None:
        save_file({k: storable(v) for k, v in expected.items()}, str(directory / EXPECTED))
    body = {"schema_version": SCHEMA_VERSION, "kind": REPRO_KIND, **meta}
    atomic_write_text(directory / REPRO_JSON, dumps(body))


def load_repro_json(directory: Path) -> dict[str, Any]:
    """Read ``repro.json`` back (checked kind and schema version)."""
    path = Path(directory) / REPRO_JSON
    data = load_json(path, "reproduction")
    check_schema(data, REPRO_KIND, path, "reproduction")
    return dict(data)


def write_script(directory: Path, text: str) -> Path:
    """Write the reproduction script."""
    path = Path(directory) / SCRIPT
    atomic_write_text(path, text)
    return path
