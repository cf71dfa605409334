"""The one error boundary: how every entry point turns an exception into lines and an exit code.

The CLI, ``python -m reprocheck.nox``, ``python -m reprocheck.integrations.matrix_main``,
the ranks of a distributed replay and the pytest plugin all classify exceptions here, so an
exception means the same everywhere:

- a :class:`~reprocheck.errors.ReprocheckError`: its own exit code, message and hint;
- a missing runtime dependency (``torch``, ``numpy``...): the environment failed (3);
- ``KeyboardInterrupt``: interrupted (130);
- anything else: reprocheck itself failed (4, a bug), never 1, which means drift and is what
  a CI gate acts on.

This module never prints: the entry point passes a ``report`` callback for each line.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator

from reprocheck.errors import (
    EnvironmentFailure,
    ExitCode,
    InternalError,
    ReprocheckError,
)

__all__ = [
    "RUNTIME_DEPENDENCIES",
    "Outcome",
    "Report",
    "classify",
    "error_lines",
    "guarded",
    "run_guarded",
]

Report = Callable[[str], object]  # its return value is ignored

# Missing at run time means a broken environment (exit 3), not a bug in reprocheck.
RUNTIME_DEPENDENCIES = frozenset({"torch", "safetensors", "deepdiff", "numpy", "piptools", "nox"})


class _Interrupted(ReprocheckError):
    """Ctrl-C: reported as ``Error: interrupted.``, exit 130."""

    exit_code = ExitCode.INTERRUPTED


def classify(exc: BaseException) -> ReprocheckError:
    """The error ``exc`` means for the user, with its exit code and hint.

    Args:
        exc: any exception that reached an entry point.

    Returns:
        ``exc`` itself when it is a :class:`ReprocheckError`; otherwise an
        :class:`EnvironmentFailure` for a missing runtime dependency, an error with exit
        code 130 for ``KeyboardInterrupt``, and an :class:`InternalError` for the rest.
    """
    if isinstance(exc, ReprocheckError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return _Interrupted("interrupted.")
    if isinstance(exc, ModuleNotFoundError) and exc.name in RUNTIME_DEPENDENCIES:
        return EnvironmentFailure(
            f"this environment lacks {exc.name}, which reprocheck needs for this command",
            hint=f"Install it (e.g. `python -m pip install {exc.name}`) or run reprocheck "
            "inside the environment you want to check.",
        )
    lines = str(exc).strip().splitlines()
    detail = f": {lines[0].strip()}" if lines else ""
    return InternalError(f"reprocheck failed: {type(exc).__name__}{detail}")


def error_lines(error: ReprocheckError) -> list[str]:
    """``Error: ...`` and, when there is one, ``Hint: ...``: one line each.

    Reviewers read these in CI logs, so a message over several lines is joined into one.
    """
    lines = [f"Error: {' '.join(str(error).splitlines())}"]
    if error.hint:
        lines.append(f"Hint: {error.hint}")
    return lines


class Outcome:
    """The exit code a :func:`guarded` block ends with; the block sets ``code`` on success."""

    def __init__(self) -> None:
        self.code: int = ExitCode.OK


@contextlib.contextmanager
def guarded(
    *,
    report: Report,
    verbose: bool | Callable[[], bool] = False,
    passthrough: tuple[type[BaseException], ...] = (),
) -> Iterator[Outcome]:
    """The boundary as a ``with`` block: what the block raises becomes lines and ``code``.

    ``with guarded(report=...) as outcome: ...; outcome.code = result.exit_code`` then
    ``return outcome.code``. The arguments are those of :func:`run_guarded`.
    """
    outcome = Outcome()
    try:
        yield outcome
    except passthrough:
        raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the boundary classifies all
        error = classify(exc)
        crashed = isinstance(error, InternalError) and error is not exc
        if crashed and (verbose() if callable(verbose) else verbose):
            report("".join(traceback.format_exception(exc)).rstrip("\n"))
        for line in error_lines(error):
            report(line)
        outcome.code = error.exit_code


def run_guarded(
    body: Callable[[], int | None],
    *,
    report: Report,
    verbose: bool | Callable[[], bool] = False,
    passthrough: tuple[type[BaseException], ...] = (),
) -> int:
    """Run an entry point's ``body`` and turn what it raises into lines and an exit code.

    Args:
        body: the entry point's work; returns its exit code (``None`` means 0).
        report: called with each line to show the user (the CLI writes them to stderr).
        verbose: whether to report the traceback of a crash (an exception that is not a
            ``ReprocheckError``); a callable is asked only then, so a CLI can decide from
            flags it parsed inside ``body``.
        passthrough: exception types to re-raise untouched (click's own exits and usage
            errors, for the CLI). ``SystemExit`` always passes.

    Returns:
        ``body``'s exit code, or the exit code of the error it raised (see :func:`classify`).
    """
    with guarded(report=report, verbose=verbose, passthrough=passthrough) as outcome:
        code = body()
        outcome.code = ExitCode.OK if code is None else code
    return outcome.code
