"""Where a run lives: a local path or an object-storage URL (``s3://bucket/runs/a``).

Commands take runs through :data:`RUN_LOCATION` (a URL stays a string: ``click.Path`` would
fold ``s3://`` into ``s3:/``), then work on local paths only: :func:`local_run` downloads a
remote run for the length of a ``with`` block, :func:`staged_out` hands out a local
directory for the writer and uploads it when the block succeeds (the manifest last).
:mod:`reprocheck.artifacts.remote` does the storage part.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

__all__ = [
    "RUN_LOCATION",
    "Location",
    "as_location",
    "check_target",
    "local_run",
    "shown",
    "staged_out",
]

#: A local path or a URL.
Location = Path | str


def _location(text: str) -> Location:
    from reprocheck.artifacts.remote import is_url

    return text if is_url(text) else Path(text)


def as_location(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback: a string option or argument (or several) as :data:`Location` values."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_location(v) for v in value)
    return _location(value)


#: The keywords for an option or argument that takes a run's location.
RUN_LOCATION: dict[str, Any] = {"type": str, "callback": as_location}


def shown(location: Location) -> str:
    """``location`` fit to print (a URL without credentials)."""
    from reprocheck.artifacts.remote import redact

    return redact(location) if isinstance(location, str) else str(location)


@contextlib.contextmanager
def local_run(location: Location) -> Iterator[Path]:
    """The run (or fingerprint file) at ``location`` as a local path, for the block."""
    if isinstance(location, Path):
        yield location
        return
    from reprocheck.artifacts.remote import fetch

    with fetch(location) as path:
        yield path


def check_target(location: Location, *, force: bool = False) -> None:
    """Refuse an ``--out`` no run can be written to, before any slow work."""
    if isinstance(location, str):
        from reprocheck.artifacts.remote import check_remote_target

        check_remote_target(location, force=force)
    else:
        from reprocheck.artifacts.run_writer import check_run_target

        check_run_target(location, force=force)


@contextlib.contextmanager
def staged_out(location: Location, *, force: bool = False) -> Iterator[Path]:
    """A local ``--out`` for the writer; for a URL, uploaded when the block succeeds.

    For a URL the run is written complete into a temporary directory first (the local
    writer's atomic rename), then uploaded with its manifest last.
    """
    if isinstance(location, Path):
        yield location
        return
    from pathlib import PurePosixPath

    from reprocheck.artifacts.remote import publish_run

    with tempfile.TemporaryDirectory(prefix="reprocheck-upload-") as tmp:
        local = Path(tmp) / (PurePosixPath(location.rstrip("/")).name or "run")
        yield local
        if (local / "run.json").is_file():
            publish_run(local, location, force=force)
