"""Click options and helpers shared by several commands, defined once."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from reprocheck._io import atomic_write_text, check_writable
from reprocheck._log import Kind, using_logger
from reprocheck.cli._state import State
from reprocheck.errors import InputError

if TYPE_CHECKING:
    from reprocheck.replay.options import ReplayOptions

__all__ = [
    "FIELD_FLAGS",
    "emit",
    "flag_names",
    "flag_text",
    "output_option",
    "printable",
    "progress_display",
    "progress_enabled",
    "replay_options_from",
]

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
        # Checked while parsing: an unwritable target fails before torch is imported.
        callback=_writable_output,
        help=help_text,
    )


def _writable_output(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        check_writable(value)
    return value


def printable(text: str) -> str:
    """``text`` with undecodable bytes of file names (lone surrogates) spelled ``\\udcff``.

    A path given on the command line may hold bytes that are not UTF-8; Python keeps them
    as lone surrogates, which no UTF-8 file or strict terminal can take.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: What ``-o FILE`` means when ``--format`` is not given: the file's extension decides.
_FORMAT_BY_SUFFIX = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".xml": "junit"}


def format_choice(
    choices: tuple[str, ...] = ("text", "json"), help_text: str = "Output format."
) -> Callable[[F], F]:
    """``--format CHOICE`` (stored as ``fmt``): text, or what ``-o FILE``'s extension says.

    ``-o result.json`` alone writes JSON, as a reader of the file name expects; ``--format``
    given explicitly always wins.
    """
    by_suffix = {suffix: fmt for suffix, fmt in _FORMAT_BY_SUFFIX.items() if fmt in choices}
    known = ", ".join(sorted(by_suffix))
    option = click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=None,
        help=f"{help_text} [default: text; with -o, from the file's extension ({known})]",
    )

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def with_format(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("fmt") is None:
                output = kwargs.get("output")
                suffix = Path(output).suffix.lower() if output is not None else ""
                kwargs["fmt"] = by_suffix.get(suffix, "text")
            return func(*args, **kwargs)

        return option(cast(F, with_format))

    return decorate


def replay_options(func: F) -> F:
    """``--steps``, ``--seed``, ``--device``, ``--trace-steps``: how scenarios are replayed."""
    for option in reversed(
        [
            click.option(
                "--steps",
                type=click.IntRange(min=1),
                default=None,
                help="Training steps per scenario [default: each scenario's own].",
            ),
            click.option(
                "--seed",
                type=click.IntRange(min=0),
                default=0,
                show_default=True,
                help="The one seed for every random source.",
            ),
            click.option(
                "--device",
                type=click.Choice(["cpu", "cuda"]),
                default="cpu",
                show_default=True,
                help="Where to run (cuda: under deterministic cuBLAS/cuDNN settings).",
            ),
            click.option(
                "--trace-steps",
                type=click.IntRange(min=0),
                default=1,
                show_default=True,
                help="Trace the first K steps operator by operator (0: no trace).",
            ),
        ]
    ):
        func = option(func)
    return func


#: The flag that sets each field an :class:`~reprocheck.errors.InputError` can name.
FIELD_FLAGS: dict[str, str] = {
    "steps": "--steps",
    "seed": "--seed",
    "device": "--device",
    "trace_steps": "--trace-steps",
    "world_size": "--world-size",
    "backend": "--backend",
    "bucket_cap_mb": "--bucket-cap-mb",
    "repeats": "--repeats",
    "fresh_process": "--fresh-process",
}
# A field by its own name, optionally with a quoted value after it: ``device 'cuda'``. Not
# inside a longer name (trace_steps holds steps) or a quoted or dotted one ('steps:build').
_FIELD = re.compile(
    r"(?<![\w.:'\"-])(?P<field>"
    + "|".join(sorted(FIELD_FLAGS, key=len, reverse=True))
    + r")(?: '(?P<value>[^']*)')?(?![\w-])"
)


def flag_text(text: str) -> str:
    """``text`` with each field named as its flag: ``device 'cuda'`` becomes ``--device cuda``."""

    def flag(match: re.Match[str]) -> str:
        value = match["value"]
        return FIELD_FLAGS[match["field"]] + ("" if value is None else f" {value}")

    return _FIELD.sub(flag, text)


@contextlib.contextmanager
def flag_names() -> Iterator[None]:
    """Say an option error the CLI's way: ``--steps must be >= 1``, not ``steps must ...``.

    The core names the field (``InputError.field``); around the commands that take these
    flags, the error's message and hint name the flag instead. Other errors pass untouched.
    """
    try:
        yield
    except InputError as exc:
        if exc.field is not None:
            exc.message = flag_text(exc.message)
            exc.args = (exc.message,)
            exc.hint = None if exc.hint is None else flag_text(exc.hint)
        raise


def replay_options_from(**flags: Any) -> ReplayOptions:
    """The replay flags' values (by field name: ``steps=``, ``world_size=``...) as one value.

    Built, and so checked, once; a bad value is reported with its flag.
    """
    from reprocheck.replay.options import ReplayOptions

    with flag_names():
        return ReplayOptions(**flags)


def emit(text: str, output: Path | None) -> None:
    """Print ``text`` or write it atomically to ``output``."""
    text = printable(text)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        atomic_write_text(output, text if text.endswith("\n") else text + "\n")


def progress_enabled() -> bool:
    """A progress display only on an interactive terminal, never in pipes or CI."""
    if os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_display(state: State, *, enabled: bool) -> Iterator[None]:
    """Show the core's progress messages on one self-updating stderr line, or drop them."""
    shown = False

    def logger(message: str, kind: Kind) -> None:
        nonlocal shown
        if kind == "progress":
            if enabled:
                sys.stderr.write(f"\r\x1b[K{message}")
                sys.stderr.flush()
                shown = True
            return
        if shown:
            sys.stderr.write("\r\x1b[K")
            shown = False
        if (kind == "debug" and not state.verbose) or (kind == "info" and state.quiet):
            return
        prefix = "warning: " if kind == "warning" else ""
        click.echo(f"{prefix}{message}", err=True)

    try:
        with using_logger(logger):
            yield
    finally:
        if shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def keep_option() -> Callable[[F], F]:
    """``--keep all|params|digests``: what a written run keeps of its final tensors."""
    return click.option(
        "--keep",
        type=click.Choice(["all", "params", "digests"]),
        default="all",
        show_default=True,
        help="What the run keeps of its final tensors: all of them, params (parameters and "
        "buffers; optimizer state as digests), or digests only (a few MB at any model "
        "size; compare then compares final tensors bitwise by digest).",
    )
