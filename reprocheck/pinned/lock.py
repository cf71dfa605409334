"""Lockfiles: compile them with pip-tools and verify an environment against one.

A lockfile is what ``pip-compile --generate-hashes`` writes: ``name==version`` lines with
``--hash`` continuation lines and comments. reprocheck writes one per environment
(``lockfiles/<env>.txt``) from an input file beside it (``lockfiles/<env>.in``), and never
copies this machine's index or find-links settings into either file: a lockfile names
*what* is installed, the machine that installs it says *where from*.

This module writes the two files safely (:func:`compile_lockfile`); running pip-compile is
:mod:`reprocheck.pinned.pipcompile`, verifying an environment :mod:`reprocheck.pinned.verify`
(both re-exported here). Only the standard library is used, so the nox helper can read
lockfiles on a host where reprocheck's own dependencies (torch) are not installed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reprocheck._io import atomic_write_text, sweep_temporaries, temporary_prefix
from reprocheck._log import log
from reprocheck.errors import EnvironmentFailure, InputError
from reprocheck.pinned.pipcompile import (
    DEFAULT_REQUIREMENTS,
    EnvironmentSpec,
    input_text,
    pip_compile,
)
from reprocheck.pinned.verify import VerifyResult, installed_distributions, verify_environment

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "EnvironmentSpec",
    "VerifyResult",
    "compile_lockfile",
    "input_text",
    "installed_distributions",
    "verify_environment",
]


def compile_lockfile(
    spec: EnvironmentSpec,
    *,
    output_dir: Path,
    requirements: Path | None = None,
    command: str = "reprocheck lock",
    upgrade: bool = False,
    timeout: float | None = None,
) -> Path:
    """Write ``<output_dir>/<name>.txt`` (and its input ``<name>.in``) with pip-compile.

    The lockfile is replaced only when pip-compile succeeds: a failure or an interrupt
    leaves the previous lockfile (and input) as they were. Pins already in an existing
    lockfile are kept unless ``upgrade`` (pip-tools' own rule).

    Raises:
        InputError: the output directory or requirements file is unusable.
        EnvironmentFailure: pip-compile failed, e.g. no distribution satisfies a pin.
    """
    output_dir = _output_dir(Path(output_dir), requirements)
    in_path = output_dir / f"{spec.name}.in"
    out_path = output_dir / f"{spec.name}.txt"
    sweep_temporaries(output_dir, out_path.name)  # what a killed run left (the .in's: its write)
    with _restored_unless_done(in_path):
        atomic_write_text(
            in_path, input_text(spec, requirements=requirements, output_dir=output_dir)
        )
        _readable(in_path)
        with _temporary_beside(out_path) as tmp:
            if out_path.is_file() and not upgrade:
                tmp.write_bytes(out_path.read_bytes())
            log(f"locking {spec.name}: {' '.join(spec.pins) or '(no pins)'}", kind="progress")
            pip_compile(spec, in_path, tmp, command=command, upgrade=upgrade, timeout=timeout)
            _check_portable(tmp, spec)
            _readable(tmp)
            os.replace(tmp, out_path)
    log(f"wrote {out_path}", kind="info")
    return out_path


def _output_dir(output_dir: Path, requirements: Path | None) -> Path:
    """Check the inputs of :func:`compile_lockfile` and create the output directory."""
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(
            f"output directory {output_dir} is not a directory",
            hint="Pass --output-dir with a directory (it is created when missing).",
        )
    if requirements is not None and not Path(requirements).is_file():
        problem = "is not a file" if Path(requirements).exists() else "does not exist"
        raise InputError(
            f"requirements file {requirements} {problem}",
            hint="Pass an existing file to --requirements, or leave it out.",
        )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create output directory {output_dir}: {exc.strerror or exc}",
            hint="Pass --output-dir with a writable location.",
        ) from None
    return output_dir


@contextlib.contextmanager
def _restored_unless_done(path: Path) -> Iterator[None]:
    """Put ``path`` back as it was (or remove it) when the block fails or is interrupted."""
    old = path.read_bytes() if path.is_file() else None
    try:
        yield
    except BaseException:
        if old is None:
            with contextlib.suppress(OSError):
                path.unlink()
        else:
            atomic_write_text(path, old.decode("utf-8"))
        raise


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """An empty temporary file next to ``path``, removed afterwards unless moved away."""
    # The pid in the name lets a later run remove this file if this process is killed.
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _readable(path: Path) -> None:
    """Give a new file the permissions a plain ``open()`` would (temp files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _check_portable(path: Path, spec: EnvironmentSpec) -> None:
    """Refuse a lockfile that names this machine (an index, find-links, a file path)."""
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("--index-url", "--extra-index-url", "--find-links", "-f ", "-i ")):
            raise EnvironmentFailure(
                f"lockfile for {spec.name!r} would name this machine's index (line {number})",
                hint="Report this: reprocheck passes --no-emit-index-url to pip-compile.",
            )
        if "file://" in stripped and not stripped.startswith("#"):
            raise EnvironmentFailure(
                f"lockfile for {spec.name!r} would pin a local file (line {number}): {stripped}",
                hint="Publish the package to an index or find-links directory and pin it "
                "by name==version.",
            )
