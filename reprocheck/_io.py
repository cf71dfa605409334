"""Atomic file writing: a temporary file beside the target, then ``os.replace``.

A crash never leaves a half-written file under the final name. Unwritable targets become
:class:`~reprocheck.errors.InputError` (exit 2) with a hint, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reprocheck.errors import InputError

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_writable"]


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
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    parent = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
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


def _umask() -> int:
    # The umask can only be read by setting it; restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
