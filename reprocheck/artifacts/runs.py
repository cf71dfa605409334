"""Run directories: the layout, and reading and validating a run.

A run is a directory::

    RUN/
      run.json                          manifest, written last: its presence means complete
      scenarios/<dir>/record.json       a ScenarioRecord (steps, trace, digests)
      scenarios/<dir>/tensors.safetensors   final parameters, buffers and optimizer state

:func:`load_run` reads one (records eagerly, tensors lazily) and refuses anything amiss; the
writer is :mod:`reprocheck.artifacts.run_writer`, the JSON conventions are
:mod:`reprocheck.artifacts.jsonfile`. Nothing is ever unpickled: JSON for structure,
safetensors for tensors. Fingerprint files (``reprocheck fingerprint --format json``) are
read here too.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reprocheck._schema import req, req_list, req_str
from reprocheck.artifacts.jsonfile import check_schema, gc_paused, load_json
from reprocheck.artifacts.keep import KEEP_MODES, kept
from reprocheck.artifacts.tensorfile import check_regular_file
from reprocheck.artifacts.tensorreader import TensorReader
from reprocheck.errors import ArtifactError
from reprocheck.model.formats import (
    FINGERPRINT_KIND,
    MANIFEST,
    RECORD,
    RUN_KIND,
    SCENARIO_KIND,
    TENSORS,
)
from reprocheck.model.records import ScenarioRecord

__all__ = [
    "UNSAFE_DIR_CHARS",
    "Run",
    "TensorReader",
    "check_fingerprint_shape",
    "load_fingerprint_file",
    "load_run",
]

#: Characters never in a scenario's directory name (the writer replaces them, the reader
#: refuses a manifest that names such a directory).
UNSAFE_DIR_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_DIGEST = re.compile(r"crc32:[0-9a-f]{8}")
# Fingerprint sections (reprocheck.model.fingerprint.SECTIONS, named here so reading an
# artifact does not import the capture code), and those that map names to strings.
_FINGERPRINT_SECTIONS = ("python", "platform", "cpu", "torch", "threads", "determinism", "cuda")
_FINGERPRINT_MAPPINGS = ("env", "packages", "package_sources")


def load_fingerprint_file(path: Path) -> dict[str, Any]:
    """Read a file written by ``reprocheck fingerprint --format json``."""
    data = load_json(path, "fingerprint file")
    check_schema(data, FINGERPRINT_KIND, Path(path), "fingerprint file")
    check_fingerprint_shape(data, f"fingerprint file {path}")
    return dict(data)


def check_fingerprint_shape(data: Mapping[str, Any], where: str) -> None:
    """The sections a fingerprint has must be objects; env and packages map to strings.

    Lighter than :meth:`reprocheck.env.Fingerprint.from_dict` on purpose: a
    fingerprint from an older or newer capture may lack a key, but a section of the
    wrong JSON type is a corrupt file, not an environment change.
    """
    for name in (*_FINGERPRINT_SECTIONS, *_FINGERPRINT_MAPPINGS):
        if name in data and not isinstance(data[name], dict):
            raise ArtifactError(
                f"{where}: section {name!r} must be an object, found {type(data[name]).__name__}"
            )
    for name in _FINGERPRINT_MAPPINGS:
        for key, value in data.get(name, {}).items():
            if not isinstance(value, str):
                raise ArtifactError(f"{where}: {name}[{key!r}] must be a string")


class Run:
    """A complete run read from disk. Records load eagerly, tensors lazily."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        records: dict[str, ScenarioRecord],
        dirs: dict[str, str],
        header_digests: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.records = records
        self._dirs = dirs
        self._header_digests = dict(header_digests or {})

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint of the environment the run was made in."""
        return dict(self.manifest["fingerprint"])

    @property
    def keep(self) -> str:
        """What the run kept of its final tensors: ``all``, ``params`` or ``digests``."""
        return str(self.manifest.get("keep", "all"))

    def stored(self, name: str, key: str) -> bool:
        """Whether the run holds final tensor ``key``'s data (else its digest only)."""
        return kept(self.keep, key) and key in self.records[name].tensors

    @property
    def scenario_names(self) -> list[str]:
        """Scenario names in the order they ran."""
        return list(self.records)

    def tensor_path(self, name: str) -> Path:
        return self.path / "scenarios" / self._dirs[name] / TENSORS

    def renamed(self, names: dict[str, str], records: dict[str, ScenarioRecord]) -> Run:
        """A view holding only ``records``, each read from the scenario ``names[new name]``."""
        dirs = {new: self._dirs[old] for new, old in names.items()}
        return Run(self.path, self.manifest, records, dirs)

    @contextlib.contextmanager
    def open_tensors(self, name: str) -> Iterator[TensorReader]:
        """Open one scenario's final tensors for lazy reading."""
        infos = self.records[name].tensors
        with TensorReader(
            self.tensor_path(name),
            {key: info for key, info in infos.items() if kept(self.keep, key)},
            header_digest=self._header_digests.get(name),
        ) as reader:
            yield reader


def load_run(path: Path) -> Run:
    """Read and validate a run directory. Raises ArtifactError for anything amiss."""
    with gc_paused():
        return _load_run(Path(path))


def _load_run(path: Path) -> Run:
    if not path.exists():
        raise ArtifactError(
            f"run directory {path} does not exist",
            hint="Create it with `reprocheck run --out DIR`.",
        )
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a run directory")
    manifest_path = path / MANIFEST
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise ArtifactError(
            f"{path} is not a complete run: {MANIFEST} is missing (an interrupted run?)"
        )
    check_regular_file(manifest_path, "run manifest")
    manifest = load_json(manifest_path, "run manifest")
    check_schema(manifest, RUN_KIND, manifest_path, "run manifest")
    where = str(manifest_path)
    check_fingerprint_shape(req(manifest, "fingerprint", dict, where), f"{where}: fingerprint")
    if manifest.get("keep", "all") not in KEEP_MODES:
        raise ArtifactError(f"{where}: key 'keep' must be one of {', '.join(KEEP_MODES)}")
    entries = req_list(manifest, "scenarios", where)
    records: dict[str, ScenarioRecord] = {}
    dirs: dict[str, str] = {}
    header_digests: dict[str, str] = {}
    root = path.resolve()
    for i, entry in enumerate(entries):
        ewhere = f"{where}: scenarios[{i}]"
        name = req_str(entry, "name", ewhere)
        sub = req_str(entry, "dir", ewhere)
        if UNSAFE_DIR_CHARS.sub("", sub) != sub or sub in ("", ".", ".."):
            raise ArtifactError(f"{ewhere}: directory {sub!r} is not a plain name")
        scen_dir = path / "scenarios" / sub
        if (
            scen_dir.is_symlink()
            or scen_dir.parent.is_symlink()
            or not scen_dir.resolve().is_relative_to(root)
        ):
            raise ArtifactError(f"{ewhere}: {scen_dir} leads out of the run directory")
        if name in records:
            raise ArtifactError(f"{ewhere}: scenario {name!r} is listed twice")
        if sub in dirs.values():
            raise ArtifactError(f"{ewhere}: directory {sub!r} is listed twice")
        check_regular_file(scen_dir / RECORD, "scenario record")
        data = load_json(scen_dir / RECORD, "scenario record")
        check_schema(data, SCENARIO_KIND, scen_dir / RECORD, "scenario record")
        record = ScenarioRecord.from_dict(data, str(scen_dir / RECORD))
        if record.name != name:
            raise ArtifactError(
                f"{scen_dir / RECORD}: names scenario {record.name!r}, the manifest says {name!r}"
            )
        records[name] = record
        dirs[name] = sub
        if entry.get("header_digest") is not None:
            digest = req_str(entry, "header_digest", ewhere)
            if not _DIGEST.fullmatch(digest):
                raise ArtifactError(f"{ewhere}: key 'header_digest' must read crc32:<8 hex digits>")
            header_digests[name] = digest
    return Run(path, manifest, records, dirs, header_digests)
