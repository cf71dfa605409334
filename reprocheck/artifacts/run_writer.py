"""Writing a run directory: :class:`RunWriter` builds it beside its target and renames it in.

A run is built in a hidden sibling directory (``.<out>.partial-<pid>-<random>``) and renamed
into place in one step, so an interrupted run never leaves anything that reads as complete,
and two runs racing for the same directory cannot mix: the second rename fails. A writer
also cleans up after a killed one: a partial run whose process is gone is removed, and a
previous run moved aside by ``--force`` is put back if the new one never took its place.
The layout is :mod:`reprocheck.artifacts.runs`'s, which reads it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck._io import atomic_write_text
from reprocheck._version import __version__
from reprocheck.artifacts.jsonfile import dumps
from reprocheck.artifacts.keep import KEEP_MODES, kept
from reprocheck.artifacts.runs import UNSAFE_DIR_CHARS
from reprocheck.artifacts.tensorfile import header_digest, storable
from reprocheck.artifacts.verify import with_digests
from reprocheck.errors import InputError
from reprocheck.model.formats import (
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

__all__ = ["RunWriter", "check_run_target"]


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
        keep: str = "all",
    ) -> None:
        self.out = Path(out)
        self.force = force
        if keep not in KEEP_MODES:
            raise InputError(
                f"cannot keep {keep!r} of a run's tensors", hint=f"Keep one of {KEEP_MODES}."
            )
        self.keep = keep
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
            "keep": keep,
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
        base = UNSAFE_DIR_CHARS.sub("_", name).strip("._") or "scenario"
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
        cpu = {k: storable(v) for k, v in tensors.items()}
        # Each tensor's digest of its bytes as stored, and the file header's, so a reader
        # can tell a corrupted file from a changed number (docs/artifact-format.md).
        record = with_digests(record, cpu)
        stored = {k: t for k, t in cpu.items() if kept(self.keep, k)}
        save_file(stored, str(scen_dir / TENSORS))
        entry = {
            "name": record.name,
            "dir": sub,
            "header_digest": header_digest(scen_dir / TENSORS),
        }
        body = {"schema_version": SCHEMA_VERSION, "kind": SCENARIO_KIND, **record.to_dict()}
        (scen_dir / RECORD).write_text(dumps(body), encoding="utf-8")
        self.manifest["scenarios"].append(entry)

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
