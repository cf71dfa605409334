"""The exception tree. Every class carries its exit code and an actionable hint.

Results (identical, within tolerance, drift) are values, never exceptions: an exception
means reprocheck *could not check*. Only the CLI's entry point turns these into
``Error: ...`` / ``Hint: ...`` lines on stderr and an exit code.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "EnvironmentFailure",
    "InputError",
    "PolicyError",
    "ReprocheckError",
    "ScenarioError",
    "SchemaVersionError",
]


class ReprocheckError(Exception):
    """Base class: reprocheck could not perform what was asked."""

    exit_code: int = 3
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class InputError(ReprocheckError):
    """Bad or malformed input from the user: an option, a file, a scenario name."""

    exit_code = 2


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

    exit_code = 3
