"""The exception tree. Every class carries its exit code and an actionable hint.

Results (identical, within tolerance, drift) are values, never exceptions: an exception
means reprocheck *could not check*. Only the entry points, through the one error boundary
(:mod:`reprocheck._boundary`), turn these into ``Error: ...`` / ``Hint: ...`` lines on
stderr and an :class:`ExitCode`.
"""

from __future__ import annotations

import enum

__all__ = [
    "ArtifactError",
    "EnvironmentFailure",
    "ExitCode",
    "InputError",
    "InternalError",
    "PolicyError",
    "ReprocheckError",
    "ScenarioError",
    "SchemaVersionError",
]


class ExitCode(enum.IntEnum):
    """The process exit codes of every entry point (the CLI, ``python -m reprocheck.nox``...).

    ``DRIFT`` (1) is a result a CI gate acts on: a crash is never 1, it is ``INTERNAL``.
    """

    OK = 0  # reproducible: identical or within tolerance
    DRIFT = 1  # drift beyond tolerance found
    USAGE = 2  # bad input: an option, a file, a scenario
    ENVIRONMENT = 3  # the environment failed: an install, a subprocess, a nox session
    INTERNAL = 4  # reprocheck's own failure: a bug
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it

    def __str__(self) -> str:  # "3", as on Python >= 3.11, also on 3.10 ("exit 3")
        return str(self.value)


class ReprocheckError(Exception):
    """Base class: reprocheck could not perform what was asked."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class InputError(ReprocheckError):
    """Bad or malformed input from the user: an option, a file, a scenario name.

    Attributes:
        field: the option the error is about, by its Python name (``"steps"``), or None.
            The message names it that way; a front end can say its own name for it (the
            CLI says ``--steps``).
    """

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class ArtifactError(InputError):
    """A run artifact or fingerprint file is missing, corrupt or inconsistent."""

    default_hint = "Re-create the artifact with `reprocheck run` or `reprocheck fingerprint`."


class SchemaVersionError(ArtifactError):
    """An artifact was written with a schema version this reprocheck cannot read."""

    default_hint = "Read it with the reprocheck version that wrote it, or re-create it."


class PolicyError(InputError):
    """A tolerance policy file or ``[tool.reprocheck]`` table is invalid."""

    default_hint = "See docs/tolerances.md for the policy file format."


class ScenarioError(InputError):
    """A scenario could not be found, built or run (the user's code raised)."""

    default_hint = "Run `reprocheck run --help` to see how scenarios are named."


class EnvironmentFailure(ReprocheckError):
    """The environment itself failed: an install, a subprocess, a nox session."""

    exit_code = ExitCode.ENVIRONMENT


class InternalError(ReprocheckError):
    """reprocheck itself failed: a bug, not the user's input or environment.

    The error boundary (:mod:`reprocheck._boundary`) turns any unexpected exception into
    one; a rank of a distributed replay hands it to the launcher by class name.
    """

    exit_code = ExitCode.INTERNAL
    default_hint = (
        "This is a bug in reprocheck; please report it with the output of `reprocheck -v ...`."
    )
