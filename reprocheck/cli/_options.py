"""Click options and helpers shared by several commands, defined once."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reprocheck._io import atomic_write_text

__all__ = ["emit", "output_option", "progress_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


def output_option(
    help_text: str = "Write the result to FILE instead of stdout.",
) -> Callable[[F], F]:
    """``-o/--output FILE``: written atomically, never half-written."""
    return click.option(
        "-o",
        "--output",
        "output",
        # No dir_okay=False: the atomic writer refuses a directory with an Error: and a Hint:.
        type=click.Path(path_type=Path),
        default=None,
        help=help_text,
    )


def emit(text: str, output: Path | None) -> None:
    """Print ``text`` or write it atomically to ``output``."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        atomic_write_text(output, text if text.endswith("\n") else text + "\n")


def progress_enabled() -> bool:
    """A progress display only on an interactive terminal, never in pipes or CI."""
    if os.environ.get("CI"):
        return False
    return sys.stderr.isatty()
