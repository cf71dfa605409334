"""Atomic file writing: a temporary file beside the target, then ``os.replace``.

A crash never leaves a half-written file under the final name. Unwritable targets become
:class:`~reprocheck.errors.InputError` (exit 2) with a hint, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from reprocheck.errors import InputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "sweep_temporaries",
    "temporary_prefix",
]


def check_writable(path: Path) -> Path:
    """Refuse a file path no file can be written to; return its directory.

    Raises:
        InputError: ``path`` is a directory, or its directory is missing or not one.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path()
    if path.is_dir():
        raise InputError(
            f"cannot write {path}: it is a directory", hint="Give a file name, e.g. -o result.json."
        )
    if not parent.is_dir():
        problem = "is not a directory" if parent.exists() else "does not exist"
        raise InputError(
            f"cannot write {path}: {parent} {problem}",
            hint="Create the directory first or choose another path.",
        )
    return parent


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    A temporary file left by an earlier write that was killed (its process is gone) is
    removed first, so a rerun leaves the directory as clean as an uninterrupted run.
    """
    path = Path(path)
    parent = check_writable(path)
    sweep_temporaries(parent, path.name)  # what an earlier, killed write left
    try:
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=parent)
    except OSError as exc:
        raise InputError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="Choose a writable location for the output.",
        ) from None
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="Choose a writable location for the output.",
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def temporary_prefix(path: Path) -> str:
    """The name start of a temporary file for ``path``: hidden, and naming this process.

    The pid lets a later run remove the file when this process was killed before it could
    (see :func:`sweep_temporaries`); SIGKILL runs no cleanup.
    """
    return f".{Path(path).name}.pid{os.getpid()}."


def sweep_temporaries(directory: Path, name: str) -> None:
    """Remove temporary files for ``directory/name`` left by processes that are gone."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.pid(\d+)\..*\.tmp$")
    for stale in Path(directory).glob(f".{name}.pid*.tmp"):
        match = pattern.match(stale.name)
        if match is None:
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                stale.unlink()
        except OSError:  # alive, owned by someone else
            continue


def _umask() -> int:
    # The umask can only be read by setting it; restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
