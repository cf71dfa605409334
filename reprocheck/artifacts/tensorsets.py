"""Tensor sets: a named dict of tensors saved as one artifact (the pytest plugin's baselines).

A tensor set is a directory::

    DIR/
      tensors.json            manifest: kind, schema_version, name, dtype, shape and digest
                              of each tensor, their order, the fingerprint of the
                              environment that wrote it
      tensors.safetensors     the tensors themselves

It follows the artifacts' conventions (:mod:`reprocheck.artifacts.jsonfile`: canonical JSON
with a schema version; safetensors for tensors, never pickle) and reuses their readers.
The directory is built beside its final place and renamed into it, so an interrupted write
leaves the previous set (or nothing) under the final name, never a mix.

Example::

    from pathlib import Path
    import torch
    from reprocheck.artifacts import tensorsets as tensorset

    tensorset.write(Path("baseline"), {"out": torch.ones(3)}, name="forward", fingerprint=fp)
    saved = tensorset.load(Path("baseline"))
    with saved.open() as reader:
        out = reader.get("out")
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._schema import req_dict, req_list, req_str
from reprocheck._version import __version__
from reprocheck.artifacts.jsonfile import check_schema, dumps, load_json
from reprocheck.artifacts.tensorfile import storable
from reprocheck.artifacts.tensorreader import TensorReader
from reprocheck.errors import ArtifactError, InputError
from reprocheck.model.formats import SCHEMA_VERSION
from reprocheck.model.records import TensorInfo

if TYPE_CHECKING:
    import torch

__all__ = ["MANIFEST", "TENSORS", "TENSORS_KIND", "TensorSet", "cpu_tensors", "load", "write"]

TENSORS_KIND = "reprocheck-tensors"
MANIFEST = "tensors.json"
TENSORS = "tensors.safetensors"


@dataclasses.dataclass(frozen=True)
class TensorSet:
    """A tensor set read from disk: the manifest now, the tensors lazily.

    Attributes:
        path: the directory.
        name: the name it was saved under (the prefix of its tensors' policy keys).
        tensors: dtype and shape of each tensor, in the order they were given.
        fingerprint: the environment that wrote it.
    """

    path: Path
    name: str
    tensors: dict[str, TensorInfo]
    fingerprint: dict[str, Any]

    @contextlib.contextmanager
    def open(self) -> Iterator[TensorReader]:
        """Open the tensors for lazy, one-at-a-time reading."""
        with TensorReader(self.path / TENSORS, self.tensors) as reader:
            yield reader


def cpu_tensors(tensors: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Check that ``tensors`` maps names to tensors; dense CPU copies, in the given order.

    Raises:
        InputError: not a non-empty dict of str -> torch.Tensor.
    """
    import torch

    # User code: the annotation promises nothing at run time.
    given: object = tensors
    if not isinstance(given, Mapping):
        raise InputError(
            f"expected a dict of tensors, got {type(given).__name__}",
            hint="Pass {'name': tensor, ...}.",
        )
    if not tensors:
        raise InputError("the dict of tensors is empty", hint="Pass at least one tensor.")
    out: dict[str, torch.Tensor] = {}
    for key, value in given.items():
        if not isinstance(key, str) or not key:
            raise InputError(
                f"tensor name {key!r} is not a non-empty string", hint="Name tensors with strings."
            )
        if not isinstance(value, torch.Tensor):
            raise InputError(
                f"{key!r} is {type(value).__name__}, not a torch.Tensor",
                hint="Convert it first, e.g. torch.as_tensor(value).",
            )
        # safetensors needs dense, contiguous, unshared CPU storage.
        out[key] = storable(value)
    return out


def write(
    path: Path,
    tensors: Mapping[str, torch.Tensor],
    *,
    name: str,
    fingerprint: Mapping[str, Any],
) -> Path:
    """Save ``tensors`` as a tensor set at ``path``, replacing any set already there.

    Args:
        path: the directory to (re)create; its parent is created if missing.
        tensors: name -> tensor (moved to the CPU, made contiguous).
        name: the set's name.
        fingerprint: the environment that made the tensors (``Fingerprint.to_dict()``).

    Raises:
        InputError: not a dict of tensors, or ``path`` cannot be written.
    """
    from safetensors.torch import save_file

    path = Path(path)
    cpu = cpu_tensors(tensors)
    manifest = _manifest(cpu, name=name, fingerprint=fingerprint)
    tmp = _partial_dir(path)
    try:
        save_file(cpu, str(tmp / TENSORS))
        # safetensors writes through a private temporary file: give the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp / TENSORS, 0o666 & ~umask)
        (tmp / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _manifest(
    cpu: Mapping[str, torch.Tensor], *, name: str, fingerprint: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``tensors.json`` of a set: each tensor's dtype, shape and digest, and their order."""
    from reprocheck.model.digest import dtype_name, tensor_digest

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": TENSORS_KIND,
        "reprocheck_version": __version__,
        "name": name,
        "tensors": {
            k: {
                **TensorInfo(dtype_name(t.dtype), tuple(t.shape)).to_dict(),
                "digest": tensor_digest(t),
            }
            for k, t in cpu.items()
        },
        # JSON objects are written with sorted keys: keep the caller's order beside them.
        "order": list(cpu),
        "fingerprint": dict(fingerprint),
    }


def _partial_dir(path: Path) -> Path:
    """A new hidden directory beside ``path`` to build the set in (the parent is created)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        raise InputError(
            f"cannot write tensor set {path}: {exc.strerror or exc}",
            hint="Choose a writable location.",
        ) from None
    return tmp


def _replace_dir(new: Path, path: Path) -> None:
    old: Path | None = None
    if path.is_symlink() or path.is_file():
        raise InputError(
            f"cannot write tensor set {path}: it exists and is not a directory",
            hint="Remove it or choose another place.",
        )
    if path.exists():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(path, old)
    os.rename(new, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load(path: Path) -> TensorSet:
    """Read and validate a tensor set's manifest (tensors are read lazily).

    Raises:
        ArtifactError: missing, not a tensor set, or inconsistent.
        SchemaVersionError: written by a reprocheck with another schema version.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{path} is not a tensor set: {MANIFEST} is missing")
    data = load_json(manifest_path, "tensor set manifest")
    check_schema(data, TENSORS_KIND, manifest_path, "tensor set manifest")
    where = str(manifest_path)
    table = req_dict(data, "tensors", where)
    tensors = {
        # "digest" here is model.digest.tensor_digest's (dtype, shape and bytes), not the
        # stored-bytes digest TensorInfo holds.
        str(k): TensorInfo.from_dict(
            {n: x for n, x in v.items() if n != "digest"}, f"{where}: tensors[{k!r}]"
        )
        if isinstance(v, dict)
        else _not_table(where, k)
        for k, v in table.items()
    }
    order = req_list(data, "order", where)
    if sorted(map(str, order)) != sorted(tensors) or len(order) != len(tensors):
        raise ArtifactError(f"{where}: key 'order' does not list each tensor once")
    return TensorSet(
        path=path,
        name=req_str(data, "name", where),
        tensors={key: tensors[key] for key in order},
        fingerprint=req_dict(data, "fingerprint", where),
    )


def _not_table(where: str, key: object) -> TensorInfo:
    raise ArtifactError(f"{where}: tensors[{key!r}] must be an object with dtype and shape")
