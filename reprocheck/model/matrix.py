"""The environment matrix as values: each environment's replay, and the table against a baseline.

Two state vocabularies, for two different things:

* :data:`EnvState` is how far an environment's replay session got, as its status file
  records it: ``building``, ``built``, ``ran``, or a failure (``not built``, ``run failed``).
* :data:`CellState` is what the matrix shows in an environment's column: ``baseline``,
  ``compared``, ``not run`` (no usable run: never replayed, unfinished or stale), or the
  environment's failure.

A :class:`Matrix` holds the comparison of every environment with the baseline. This module
sits below the comparison code, so it knows of a comparison only what a verdict needs
(:class:`Compared`: a verdict, a summary line, ``to_dict``); ``Matrix.from_dict`` takes
the comparison's reader as an argument. :class:`MatrixResult` is the verdict part alone,
which a host without torch reads back to print the verdict and take the exit code.

Files are known only to :mod:`reprocheck.artifacts.matrix_files`, which adds the
``kind``/``schema_version`` header when writing and checks it when reading.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar, get_args

from reprocheck._schema import req, req_list, req_str
from reprocheck.errors import ArtifactError, ExitCode

__all__ = [
    "CELL_STATES",
    "ENV_FAILURES",
    "ENV_STATES",
    "EXIT_CODES",
    "CellState",
    "Compared",
    "EnvFailure",
    "EnvState",
    "EnvStatus",
    "Matrix",
    "MatrixCell",
    "MatrixResult",
    "version_key",
]

#: An environment that could not be built, or whose replay failed: the matrix exits 3.
EnvFailure = Literal["not built", "run failed"]
#: How far an environment's replay session got (its status file).
EnvState = Literal["building", "built", "ran", EnvFailure]
#: What the matrix shows in an environment's column.
CellState = Literal["baseline", "compared", "not run", EnvFailure]
ENV_FAILURES: tuple[EnvFailure, ...] = get_args(EnvFailure)
ENV_STATES: tuple[EnvState, ...] = get_args(EnvState)
CELL_STATES: tuple[CellState, ...] = get_args(CellState)
#: The exit codes a matrix can have: reproducible, drift, an environment failed.
EXIT_CODES: tuple[ExitCode, ...] = (ExitCode.OK, ExitCode.DRIFT, ExitCode.ENVIRONMENT)


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``torch-2.6.0`` before ``torch-2.13.0``."""
    parts = re.findall(r"\d+|\D+", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _opt_str(data: Any, key: str, where: str) -> str | None:
    value = req(data, key, (str, type(None)), where)
    return None if value is None else str(value)


def _state(data: Any, where: str, allowed: tuple[str, ...]) -> Any:
    state = req_str(data, "state", where)
    if state not in allowed:
        raise ArtifactError(f"{where}: unknown state {state!r}")
    return state


@dataclasses.dataclass(frozen=True, slots=True)
class EnvStatus:
    """What the replay session of one environment achieved.

    Attributes:
        env: the environment (lockfile stem).
        state: how far its replay session got (:data:`EnvState`).
        lockfile_sha256: the lockfile the environment was built from.
        python: the environment's interpreter, once built.
        message: why it failed, naming the pin where one is to blame.
    """

    env: str
    state: EnvState
    lockfile_sha256: str
    python: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the status file adds its header)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "environment status") -> EnvStatus:
        """Inverse of :meth:`to_dict`; a malformed document is an ArtifactError."""
        return cls(
            env=req_str(data, "env", where),
            state=_state(data, where, ENV_STATES),
            lockfile_sha256=req_str(data, "lockfile_sha256", where),
            python=_opt_str(data, "python", where),
            message=_opt_str(data, "message", where),
        )


class Compared(Protocol):
    """What the matrix needs of a comparison (a ``ComparisonResult`` is one)."""

    @property
    def verdict(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=Compared)
#: Reads a comparison back from its ``to_dict`` form; ``where`` names it in errors.
ComparisonReader = Callable[[Any, str], C]


@dataclasses.dataclass(frozen=True)
class MatrixCell(Generic[C]):
    """One environment's column: how it was compared, or why it could not be.

    Attributes:
        env: the environment.
        state: what its column shows (:data:`CellState`).
        older, newer: the comparison's sides, in upgrade order (when compared).
        result: the comparison of ``older`` with ``newer`` (when compared).
        message: why it was not compared, when it was not.
    """

    env: str
    state: CellState
    older: str | None = None
    newer: str | None = None
    result: C | None = None
    message: str | None = None

    @property
    def line(self) -> str:
        """The environment's verdict line, e.g. ``torch-2.6.0 → torch-2.13.0: drift ...``."""
        if self.state == "baseline":
            return "baseline"
        if self.result is not None:
            return f"{self.older} → {self.newer}: {self.result.summary}"
        return f"{self.state}" + (f": {self.message}" if self.message else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the comparison as ``compare --format json`` has it)."""
        return {
            "env": self.env,
            "state": self.state,
            "older": self.older,
            "newer": self.newer,
            "verdict": None if self.result is None else self.result.verdict,
            "message": self.message,
            "comparison": None if self.result is None else self.result.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str, read: ComparisonReader[C]) -> MatrixCell[C]:
        """Inverse of :meth:`to_dict`; ``read`` reads the comparison."""
        comparison = req(data, "comparison", (dict, type(None)), where)
        result = None if comparison is None else read(comparison, f"{where}.comparison")
        verdict = req(data, "verdict", (str, type(None)), where)
        if verdict != (None if result is None else result.verdict):
            raise ArtifactError(f"{where}: key 'verdict' is not its comparison's verdict")
        return cls(
            env=req_str(data, "env", where),
            state=_state(data, where, CELL_STATES),
            older=_opt_str(data, "older", where),
            newer=_opt_str(data, "newer", where),
            result=result,
            message=_opt_str(data, "message", where),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class MatrixResult:
    """The matrix's verdict as ``runs/matrix.json`` records it, readable without torch.

    Attributes:
        baseline: the environment every other one was compared with.
        exit_code: 0 reproducible, 1 drift, 3 an environment could not be built or replayed.
        summary: the ``matrix verdict: ...`` line.
        lines: (environment, its verdict line), in the table's order.
    """

    baseline: str
    exit_code: ExitCode
    summary: str
    lines: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """The keys this part of ``runs/matrix.json`` has."""
        return {
            "baseline": self.baseline,
            "exit_code": int(self.exit_code),
            "summary": self.summary,
            "lines": dict(self.lines),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "matrix result") -> MatrixResult:
        """Inverse of :meth:`to_dict`: a verdict exit code and a line per environment."""
        code = req(data, "exit_code", int, where)
        if code not in EXIT_CODES:
            codes = ", ".join(str(int(c)) for c in EXIT_CODES)
            raise ArtifactError(f"{where}: key 'exit_code' must be one of {codes}")
        lines = req(data, "lines", dict, where)
        if not lines or not all(isinstance(v, str) for v in lines.values()):
            raise ArtifactError(f"{where}: key 'lines' must map each environment to a line")
        return cls(
            baseline=req_str(data, "baseline", where),
            exit_code=ExitCode(code),
            summary=req_str(data, "summary", where),
            lines=tuple((str(k), v) for k, v in lines.items()),
        )


@dataclasses.dataclass(frozen=True)
class Matrix(Generic[C]):
    """Every environment against the baseline."""

    baseline: str
    cells: tuple[MatrixCell[C], ...]

    @property
    def failed(self) -> tuple[MatrixCell[C], ...]:
        """Environments that could not be built or replayed."""
        return tuple(c for c in self.cells if c.state in ENV_FAILURES)

    @property
    def drifting(self) -> tuple[MatrixCell[C], ...]:
        """Environments whose runs drift from the baseline's."""
        return tuple(c for c in self.cells if c.result is not None and c.result.verdict == "drift")

    @property
    def exit_code(self) -> ExitCode:
        """3 if any environment failed, else 1 on drift, else 0."""
        if self.failed:
            return ExitCode.ENVIRONMENT
        return ExitCode.DRIFT if self.drifting else ExitCode.OK

    @property
    def verdict_line(self) -> str:
        """One line for the whole matrix."""
        compared = [c for c in self.cells if c.result is not None]
        head = "drift" if self.drifting else "reproducible"
        if self.failed:
            head = "environment failure"
        parts = [
            f"{len(self.drifting)} of {len(compared)} environment(s) drift from {self.baseline}"
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} could not be built or replayed")
        not_run = [c.env for c in self.cells if c.state == "not run"]
        if not_run:
            parts.append(f"not run: {', '.join(not_run)}")
        return f"matrix verdict: {head} ({'; '.join(parts)})"

    def result(self) -> MatrixResult:
        """The verdict part: what a verdict block and an exit code need."""
        return MatrixResult(
            baseline=self.baseline,
            exit_code=self.exit_code,
            summary=self.verdict_line,
            lines=tuple((c.env, c.line) for c in self.cells),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``runs/matrix.json`` without its header)."""
        return {**self.result().to_dict(), "environments": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: Any, read: ComparisonReader[C], where: str = "matrix") -> Matrix[C]:
        """Inverse of :meth:`to_dict`; ``read`` reads each comparison back.

        Raises:
            ArtifactError: a key is missing or malformed, or the recorded verdict is not
                the one the environments give.
        """
        verdict = MatrixResult.from_dict(data, where)
        envs = req_list(data, "environments", where)
        cells = tuple(
            MatrixCell.from_dict(c, f"{where}.environments[{i}]", read) for i, c in enumerate(envs)
        )
        matrix = cls(baseline=verdict.baseline, cells=cells)
        if matrix.result() != verdict:
            raise ArtifactError(f"{where}: the recorded verdict is not its environments' verdict")
        return matrix
