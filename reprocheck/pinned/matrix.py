"""The environment matrix: every replayed environment compared with one baseline, as one table.

The nox ``replay`` sessions leave a run per environment (``runs/<env>/``) and a status
record beside it (``runs/.status/<env>.json``: built, ran, or why not). This module turns
them into a scenario x environment table with a verdict line per environment, and an exit
code: 3 when any environment could not be built or replayed (the others are still
reported), else 1 on drift, else 0.

Each pair is compared in upgrade order: the environment whose name sorts first
(version-aware, so ``torch-2.6.0`` before ``torch-2.13.0``) is the comparison's baseline
side, so every verdict line reads as the upgrade from the older to the newer environment.

The result is also written as JSON (``runs/matrix.json``, kind ``reprocheck-matrix``);
:func:`read_result` reads back what a report of the verdict needs (:class:`MatrixResult`)
without torch, which is how ``python -m reprocheck.nox`` prints the verdict and takes its
exit code.

Only the standard library is imported at module level: the nox helper imports this module
on a host that has no torch. ``python -m reprocheck.pinned.matrix`` runs inside a replay
environment (which has torch) and is what the ``compare`` session calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reprocheck._io import atomic_write_text
from reprocheck.errors import ArtifactError, InputError, ReprocheckError

if TYPE_CHECKING:
    from reprocheck.comparison import ComparisonResult, Policy

__all__ = [
    "EnvStatus",
    "Matrix",
    "MatrixCell",
    "MatrixResult",
    "build_matrix",
    "main",
    "read_result",
    "read_status",
    "render_markdown",
    "render_table",
    "render_text",
    "render_verdict",
    "version_key",
    "write_status",
]

STATUS_DIR = ".status"
STATUS_KIND = "reprocheck-env-status"
MATRIX_KIND = "reprocheck-matrix"
SCHEMA_VERSION = 1

State = Literal["building", "built", "ran", "not built", "run failed"]
CellState = Literal["baseline", "compared", "not built", "run failed", "not run"]
_Found = Literal["ran", "not built", "run failed", "not run"]
_FAILED: tuple[str, ...] = ("not built", "run failed")
#: The exit codes a matrix can have: reproducible, drift, an environment failed.
EXIT_CODES: tuple[int, ...] = (0, 1, 3)


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``torch-2.6.0`` before ``torch-2.13.0``."""
    parts = re.findall(r"\d+|\D+", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


@dataclasses.dataclass(frozen=True, slots=True)
class EnvStatus:
    """What the replay session of one environment achieved.

    Attributes:
        env: the environment (lockfile stem).
        state: ``building``, ``built``, ``ran``, ``not built`` or ``run failed``.
        lockfile_sha256: the lockfile the environment was built from.
        python: the environment's interpreter, once built.
        message: why it failed, naming the pin where one is to blame.
    """

    env: str
    state: State
    lockfile_sha256: str
    python: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": STATUS_KIND,
            **dataclasses.asdict(self),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: Path) -> EnvStatus:
        """Read a status record, rejecting anything malformed."""
        try:
            if data.get("kind") != STATUS_KIND:
                raise ArtifactError(f"{source} is not a reprocheck environment status")
            state = data["state"]
            if state not in ("building", "built", "ran", "not built", "run failed"):
                raise ArtifactError(f"{source}: unknown state {state!r}")
            return cls(
                env=str(data["env"]),
                state=state,
                lockfile_sha256=str(data["lockfile_sha256"]),
                python=None if data.get("python") is None else str(data["python"]),
                message=None if data.get("message") is None else str(data["message"]),
            )
        except (KeyError, TypeError, AttributeError):
            raise ArtifactError(
                f"{source} is not a valid environment status", hint="Re-run its replay session."
            ) from None


def _status_path(runs_dir: Path, env: str) -> Path:
    return Path(runs_dir) / STATUS_DIR / f"{env}.json"


def write_status(runs_dir: Path, status: EnvStatus) -> None:
    """Record ``status`` under ``runs_dir/.status/`` (atomically)."""
    path = _status_path(runs_dir, status.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(status.to_dict(), indent=2, sort_keys=True) + "\n")


def read_status(runs_dir: Path, env: str) -> EnvStatus | None:
    """The recorded status of ``env``, or None when its replay session never ran."""
    path = _status_path(runs_dir, env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ArtifactError(
            f"{path} is not a valid environment status", hint="Re-run its replay session."
        ) from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} is not a valid environment status")
    return EnvStatus.from_dict(data, source=path)


@dataclasses.dataclass(frozen=True)
class MatrixCell:
    """One environment's column: how it was compared, or why it could not be."""

    env: str
    state: CellState
    older: str | None = None
    newer: str | None = None
    result: ComparisonResult | None = None
    message: str | None = None

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


@dataclasses.dataclass(frozen=True)
class Matrix:
    """Every environment against the baseline."""

    baseline: str
    cells: tuple[MatrixCell, ...]

    @property
    def failed(self) -> tuple[MatrixCell, ...]:
        """Environments that could not be built or replayed."""
        return tuple(c for c in self.cells if c.state in _FAILED)

    @property
    def drifting(self) -> tuple[MatrixCell, ...]:
        """Environments whose runs drift from the baseline's."""
        return tuple(c for c in self.cells if c.result is not None and c.result.verdict == "drift")

    @property
    def exit_code(self) -> int:
        """3 if any environment failed, else 1 on drift, else 0."""
        if self.failed:
            return 3
        return 1 if self.drifting else 0

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
        """The verdict part: what :func:`render_verdict` and an exit code need."""
        return MatrixResult(
            baseline=self.baseline,
            exit_code=self.exit_code,
            summary=self.verdict_line,
            lines=tuple((c.env, _env_line(c)) for c in self.cells),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``runs/matrix.json``)."""
        return {
            **self.result().to_dict(),
            "environments": [c.to_dict() for c in self.cells],
        }


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
    exit_code: int
    summary: str
    lines: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON keys this part of ``runs/matrix.json`` has."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": MATRIX_KIND,
            "baseline": self.baseline,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "lines": dict(self.lines),
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: Path) -> MatrixResult:
        """Read a matrix result, rejecting anything that is not one."""
        invalid = ArtifactError(
            f"{source} is not a valid reprocheck matrix result",
            hint="Run the compare session again (nox -s compare).",
        )
        if not isinstance(data, Mapping) or data.get("kind") != MATRIX_KIND:
            raise invalid
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ArtifactError(
                f"{source} has matrix schema version {data.get('schema_version')!r}, "
                f"this reprocheck reads {SCHEMA_VERSION}",
                hint="Run the compare session again with this reprocheck.",
            )
        code = data.get("exit_code")
        lines = data.get("lines")
        baseline = data.get("baseline")
        summary = data.get("summary")
        if (
            type(code) is not int
            or code not in EXIT_CODES
            or not isinstance(baseline, str)
            or not isinstance(summary, str)
            or not isinstance(lines, Mapping)
            or not lines
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in lines.items())
        ):
            raise invalid
        return cls(baseline, code, summary, tuple(lines.items()))


def read_result(path: Path) -> MatrixResult:
    """The verdict recorded in a matrix JSON file (``runs/matrix.json``).

    Raises:
        ArtifactError: the file is missing, not JSON, or not a matrix result.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(
            f"{path} does not exist: the matrix was not written",
            hint="Run the compare session (nox -s replay compare).",
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"cannot read {path}: {exc}", hint="Run the compare session again (nox -s compare)."
        ) from None
    return MatrixResult.from_dict(data, source=path)


def build_matrix(
    runs_dir: Path,
    envs: Sequence[str],
    baseline: str,
    *,
    lockfile_hashes: Mapping[str, str] | None = None,
    policy: Policy | None = None,
) -> Matrix:
    """Compare the run of every environment in ``envs`` with the baseline's.

    Args:
        runs_dir: where the replay sessions wrote ``<env>/`` and ``.status/<env>.json``.
        envs: the environments, in the order to show them.
        baseline: the environment every other one is compared with.
        lockfile_hashes: env -> current lockfile sha256; a run made from an older lockfile
            counts as not run (its environment has changed since).
        policy: the tolerance policy (the default preset when None).

    Raises:
        InputError: ``baseline`` is not one of ``envs``.
    """
    from reprocheck.comparison import compare

    if baseline not in envs:
        raise InputError(
            f"baseline {baseline!r} is not one of the environments ({', '.join(envs)})",
            hint="Name a lockfile's stem, e.g. torch-2.13.0.",
        )
    runs_dir = Path(runs_dir)
    states = {env: _state(runs_dir, env, lockfile_hashes) for env in envs}
    base_state, base_message = states[baseline]
    cells = []
    for env in envs:
        state, message = states[env]
        if env == baseline:
            cells.append(MatrixCell(env, "baseline" if state == "ran" else state, message=message))
            continue
        if state != "ran":
            cells.append(MatrixCell(env, state, message=message))
            continue
        if base_state != "ran":
            why = f"baseline {baseline} {base_state}" + (
                f": {base_message}" if base_message else ""
            )
            cells.append(MatrixCell(env, "not run", message=f"cannot compare: {why}"))
            continue
        older, newer = sorted((env, baseline), key=version_key)
        result = compare(runs_dir / older, runs_dir / newer, policy=policy)
        cells.append(MatrixCell(env, "compared", older=older, newer=newer, result=result))
    return Matrix(baseline=baseline, cells=tuple(cells))


def _state(runs_dir: Path, env: str, hashes: Mapping[str, str] | None) -> tuple[_Found, str | None]:
    status = read_status(runs_dir, env)
    if status is None:
        return "not run", "its replay session has not run"
    if hashes is not None and env in hashes and status.lockfile_sha256 != hashes[env]:
        return "not run", "its lockfile changed since the last replay; run it again"
    if status.state in _FAILED:
        return ("not built" if status.state == "not built" else "run failed"), status.message
    if status.state != "ran" or not (runs_dir / env).is_dir():
        return "not run", "its replay session did not finish"
    return "ran", None


# --- rendering -------------------------------------------------------------------------


def _cell_text(matrix: Matrix, cell: MatrixCell, scenario: str) -> str:
    if cell.state == "baseline":
        return "baseline"
    if cell.result is None:
        return cell.state
    try:
        s = cell.result.scenario(scenario)
    except KeyError:
        return "-"
    return s.verdict if s.kind is None else f"{s.verdict} ({s.kind})"


def _scenarios(matrix: Matrix) -> list[str]:
    names: list[str] = []
    for cell in matrix.cells:
        if cell.result is not None:
            names += [s.name for s in cell.result.scenarios if s.name not in names]
    return names


def _env_line(cell: MatrixCell) -> str:
    if cell.state == "baseline":
        return "baseline"
    if cell.result is not None:
        return f"{cell.older} → {cell.newer}: {cell.result.summary}"
    return f"{cell.state}" + (f": {cell.message}" if cell.message else "")


def render_table(matrix: Matrix) -> str:
    """The scenario x environment table alone (a row per scenario, a column per environment)."""
    envs = [c.env for c in matrix.cells]
    rows = [["scenario", *envs]]
    scenarios = _scenarios(matrix)
    rows += [[name, *(_cell_text(matrix, c, name) for c in matrix.cells)] for name in scenarios]
    if not scenarios:
        rows.append(["(none)", *(_cell_text(matrix, c, "") for c in matrix.cells)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def render_verdict(result: MatrixResult) -> str:
    """The ``matrix verdict: ...`` line, then one indented line per environment."""
    width = max(len(env) for env, _ in result.lines)
    lines = [result.summary]
    lines += [f"  {env.ljust(width)}  {line}" for env, line in result.lines]
    return "\n".join(lines) + "\n"


def render_text(matrix: Matrix) -> str:
    """The table, then the overall verdict and a line per environment."""
    return render_table(matrix) + "\n" + render_verdict(matrix.result())


def render_markdown(matrix: Matrix) -> str:
    """The matrix as GitHub-flavoured markdown (for ``$GITHUB_STEP_SUMMARY``)."""
    envs = [c.env for c in matrix.cells]
    lines = [f"## reprocheck matrix (baseline `{matrix.baseline}`)", ""]
    lines.append("| scenario | " + " | ".join(f"`{e}`" for e in envs) + " |")
    lines.append("|---" * (len(envs) + 1) + "|")
    for name in _scenarios(matrix) or ["(none)"]:
        cells = [_cell_text(matrix, c, name) for c in matrix.cells]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- **{c.env}**: {_env_line(c)}" for c in matrix.cells]
    lines += ["", f"**{matrix.verdict_line}**"]
    return "\n".join(lines) + "\n"


# --- entry point (run inside a replay environment by the nox compare session) -----------


def _append_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it (like ``compare``)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        sys.stderr.write(f"warning: cannot append to GITHUB_STEP_SUMMARY {target}: {exc}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reprocheck.pinned.matrix``: print the matrix; exit 0, 1 (drift), 3 (failure)."""
    parser = argparse.ArgumentParser(
        prog="python -m reprocheck.pinned.matrix",
        description="Compare every replayed environment with a baseline, as one table.",
    )
    parser.add_argument("envs", nargs="+", help="environments (lockfile stems), in order")
    parser.add_argument("--baseline", required=True, help="the environment to compare with")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="runs directory")
    parser.add_argument("--lockfiles", type=Path, default=None, help="lockfile directory")
    parser.add_argument("--markdown", type=Path, default=None, help="also write markdown here")
    parser.add_argument(
        "--json", type=Path, action="append", default=[], help="also write JSON here (repeatable)"
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the table but not the verdict (the caller prints it from the JSON)",
    )
    args = parser.parse_args(argv)
    try:
        hashes = None
        if args.lockfiles is not None:
            from reprocheck.pinned.lockfile import lockfile_sha256

            hashes = {
                env: lockfile_sha256(args.lockfiles / f"{env}.txt")
                for env in args.envs
                if (args.lockfiles / f"{env}.txt").is_file()
            }
        matrix = build_matrix(args.runs, args.envs, args.baseline, lockfile_hashes=hashes)
        sys.stdout.write(render_table(matrix) if args.table_only else render_text(matrix))
        sys.stdout.flush()
        if args.markdown is not None:
            atomic_write_text(args.markdown, render_markdown(matrix))
        _append_step_summary(render_markdown(matrix))
        # The JSON is written last: a caller that finds it knows the matrix was complete.
        for path in args.json:
            atomic_write_text(path, json.dumps(matrix.to_dict(), indent=2) + "\n")
    except ReprocheckError as exc:
        sys.stderr.write(f"Error: {exc}\n" + (f"Hint: {exc.hint}\n" if exc.hint else ""))
        return exc.exit_code
    return matrix.exit_code


if __name__ == "__main__":  # pragma: no cover - exercised through the nox compare session
    sys.exit(main())
