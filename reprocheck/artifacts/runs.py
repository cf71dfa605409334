"""The only module that knows the artifact files: layout, schema version, reading, writing.

A run is a directory::

    RUN/
      run.json                          manifest, written last: its presence means complete
      scenarios/<dir>/record.json       a ScenarioRecord (steps, trace, digests)
      scenarios/<dir>/tensors.safetensors   final parameters, buffers and optimizer state

A run is built in a hidden sibling directory and renamed into place in one step, so an
interrupted run never leaves anything that reads as complete, and two runs racing for the
same directory cannot mix: the second rename fails. Nothing is ever unpickled: JSON for
structure, safetensors for tensors.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._io import atomic_write_text
from reprocheck._schema import find_lone_surrogate, req, req_list, req_str
from reprocheck._version import __version__
from reprocheck.artifacts.tensorfile import TensorReader, check_regular_file
from reprocheck.errors import ArtifactError, InputError, SchemaVersionError
from reprocheck.model.formats import (
    FINGERPRINT_KIND,
    MANIFEST,
    RECORD,
    RUN_KIND,
    SCENARIO_KIND,
    SCHEMA_VERSION,
    TENSORS,
)
from reprocheck.model.records import ScenarioRecord

if TYPE_CHECKING:
    import torch

__all__ = [
    "Run",
    "RunWriter",
    "TensorReader",
    "check_fingerprint_shape",
    "dumps",
    "load_fingerprint_file",
    "load_json",
    "load_run",
]

_MAX_JSON_BYTES = 512 * 1024 * 1024
_SAFE_DIR = re.compile(r"[^A-Za-z0-9._-]+")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Fingerprint sections (reprocheck.model.fingerprint.SECTIONS, named here so reading an
# artifact does not import the capture code), and those that map names to strings.
_FINGERPRINT_SECTIONS = ("python", "platform", "cpu", "torch", "threads", "determinism", "cuda")
_FINGERPRINT_MAPPINGS = ("env", "packages", "package_sources")


def dumps(data: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, no NaN tokens, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def load_json(path: Path, what: str) -> Any:
    """Read a JSON file, turning every failure into a one-line ArtifactError."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ArtifactError(f"{what} {path} does not exist")
    if path.is_symlink():
        raise ArtifactError(f"{what} {path} is a symbolic link; an artifact holds plain files only")
    if not path.is_file():
        raise ArtifactError(f"{what} {path} is not a file")
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise ArtifactError(f"{what} {path} is {size} bytes, too large to be ours")
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise ArtifactError(f"{what} {path} is empty")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ArtifactError(f"{what} {path} is not UTF-8 text (corrupt?)") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise ArtifactError(f"{what} {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ArtifactError(f"{what} {path} nests too deeply to be ours") from None
    # Only a surrogate escape (backslash-u D800 to DFFF) decodes into text that is not
    # valid Unicode; look for one only when the raw bytes could spell it.
    if _SURROGATE_ESCAPE.search(raw):
        bad = find_lone_surrogate(data)
        if bad is not None:
            raise ArtifactError(f"{what} {path} holds text that is not valid Unicode: {bad}")
    return data


def _reject_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token}")


def check_schema(data: Any, kind: str, path: Path, what: str) -> None:
    """Check ``kind`` and ``schema_version`` of a top-level object."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{what} {path}: expected a JSON object at the top")
    found_kind = data.get("kind")
    if found_kind != kind:
        raise ArtifactError(f"{what} {path}: kind is {found_kind!r}, expected {kind!r}")
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ArtifactError(f"{what} {path}: schema_version is missing or not an integer")
    if version != SCHEMA_VERSION:
        newer = "newer" if version > SCHEMA_VERSION else "older"
        raise SchemaVersionError(
            f"{what} {path} has schema_version {version} ({newer}); this reprocheck "
            f"{__version__} reads schema_version {SCHEMA_VERSION}"
        )


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
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.records = records
        self._dirs = dirs

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint of the environment the run was made in."""
        return dict(self.manifest["fingerprint"])

    @property
    def created(self) -> str:
        return str(self.manifest.get("created", ""))

    @property
    def scenario_names(self) -> list[str]:
        """Scenario names in the order they ran."""
        return list(self.records)

    def tensor_path(self, name: str) -> Path:
        return self.path / "scenarios" / self._dirs[name] / TENSORS

    @contextlib.contextmanager
    def open_tensors(self, name: str) -> Iterator[TensorReader]:
        """Open one scenario's final tensors for lazy reading."""
        yield TensorReader(self.tensor_path(name), self.records[name].tensors)


def load_run(path: Path) -> Run:
    """Read and validate a run directory. Raises ArtifactError for anything amiss."""
    path = Path(path)
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
    entries = req_list(manifest, "scenarios", where)
    records: dict[str, ScenarioRecord] = {}
    dirs: dict[str, str] = {}
    root = path.resolve()
    for i, entry in enumerate(entries):
        ewhere = f"{where}: scenarios[{i}]"
        name = req_str(entry, "name", ewhere)
        sub = req_str(entry, "dir", ewhere)
        if _SAFE_DIR.sub("", sub) != sub or sub in ("", ".", ".."):
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
    return Run(path, manifest, records, dirs)


def _writer_pid(name: str, kind: str) -> int | None:
    """The pid in ``.<out>.<kind>-<pid>-<random>``, or None if the name has none."""
    try:
        return int(name.rsplit(f".{kind}-", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_run_target(out: Path, *, force: bool = False) -> Path:
    """Refuse an ``--out`` no run can be written to; return its parent directory.

    Cheap and free of torch, so a command checks its target before any slow work. A
    missing parent is fine (the writer creates it); a parent that is a file is not.

    Raises:
        InputError: ``out`` is a file, a non-empty directory without ``force``, or lies
            under a file.
    """
    out = Path(out)
    parent = out.parent if str(out.parent) else Path()
    if out.exists() and not out.is_dir():
        raise InputError(
            f"--out {out} exists and is not a directory",
            hint="Choose a new directory for the run.",
        )
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(
            f"{out} already exists and is not empty",
            hint="Choose another --out, or pass --force to replace it.",
        )
    for above in (parent, *parent.parents):
        if above.exists():
            if not above.is_dir():
                raise InputError(
                    f"cannot write run to {out}: {above} is not a directory",
                    hint="Choose a location for --out under a directory.",
                )
            break
    return parent


class RunWriter:
    """Build a run in a hidden directory beside ``out``; :meth:`commit` moves it into place.

    Use as a context manager: leaving the block with an exception removes the partial
    directory; leaving it normally commits.
    """

    def __init__(
        self,
        out: Path,
        *,
        fingerprint: Mapping[str, Any],
        force: bool = False,
        command: list[str] | None = None,
    ) -> None:
        self.out = Path(out)
        self.force = force
        parent = check_run_target(self.out, force=force)
        if not parent.is_dir():
            # Like `mkdir -p`: a run into runs/a works in an empty directory.
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"cannot write run to {self.out}: cannot create {parent}: "
                    f"{exc.strerror or exc}",
                    hint="Choose a writable location for --out.",
                ) from None
        self._clean_stale(parent)
        self.tmp = parent / f".{self.out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            (self.tmp / "scenarios").mkdir(parents=True)
        except OSError as exc:
            raise InputError(
                f"cannot write run to {self.out}: {exc.strerror or exc}",
                hint="Choose a writable location for --out.",
            ) from None
        self.manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": RUN_KIND,
            "reprocheck_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": list(command or []),
            "fingerprint": dict(fingerprint),
            "scenarios": [],
        }
        self._used: set[str] = set()

    def _clean_stale(self, parent: Path) -> None:
        # Directories left by a killed run, once their writer is gone: a partial run is
        # removed; a previous run moved aside by --force is put back if the new run never
        # took its place (killed between the two renames of commit), else removed.
        for kind in ("partial", "old"):
            for stale in sorted(parent.glob(f".{self.out.name}.{kind}-*")):
                pid = _writer_pid(stale.name, kind)
                if pid is None or _pid_alive(pid):
                    continue
                if kind == "old" and not self.out.exists():
                    with contextlib.suppress(OSError):
                        os.rename(stale, self.out)
                    continue
                shutil.rmtree(stale, ignore_errors=True)

    def _dir_for(self, name: str) -> str:
        base = _SAFE_DIR.sub("_", name).strip("._") or "scenario"
        candidate, n = base, 1
        while candidate in self._used:
            n += 1
            candidate = f"{base}-{n}"
        self._used.add(candidate)
        return candidate

    def add(self, record: ScenarioRecord, tensors: Mapping[str, torch.Tensor]) -> None:
        """Write one scenario's record and final tensors into the partial run."""
        from safetensors.torch import save_file

        sub = self._dir_for(record.name)
        scen_dir = self.tmp / "scenarios" / sub
        scen_dir.mkdir()
        body = {"schema_version": SCHEMA_VERSION, "kind": SCENARIO_KIND, **record.to_dict()}
        (scen_dir / RECORD).write_text(dumps(body), encoding="utf-8")
        cpu = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
        save_file(cpu, str(scen_dir / TENSORS))
        self.manifest["scenarios"].append({"name": record.name, "dir": sub})

    def commit(self) -> Path:
        """Write the manifest and move the run into place."""
        atomic_write_text(self.tmp / MANIFEST, dumps(self.manifest))
        old: Path | None = None
        if self.out.exists():
            if any(self.out.iterdir()):
                if not self.force:  # someone else finished first
                    self.abort()
                    raise InputError(
                        f"{self.out} was written by another run meanwhile",
                        hint="Use a separate --out for each concurrent run.",
                    )
                old = self.out.parent / (
                    f".{self.out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                )
                os.rename(self.out, old)
            else:
                with contextlib.suppress(OSError):
                    self.out.rmdir()
        try:
            os.rename(self.tmp, self.out)
        except OSError:
            self.abort()
            raise InputError(
                f"{self.out} was written by another run meanwhile",
                hint="Use a separate --out for each concurrent run.",
            ) from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        """Remove the partial run."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
