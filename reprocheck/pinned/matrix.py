"""The environment matrix: every replayed environment compared with one baseline.

The nox ``replay`` sessions leave a run per environment (``runs/<env>/``) and a status
record beside it (``runs/.status/<env>.json``: built, ran, or why not). :func:`build_matrix`
compares each environment's run with the baseline's and returns a :class:`Matrix` of
:class:`ComparisonResult`: a column per environment, with a verdict line each, and an
exit code: 3 when any environment could not be built or replayed (the others are still
compared), else 1 on drift, else 0.

Each pair is compared in upgrade order: the environment whose name sorts first
(version-aware, so ``torch-2.6.0`` before ``torch-2.13.0``) is the comparison's baseline
side, so every verdict line reads as the upgrade from the older to the newer environment.

The values live in :mod:`reprocheck.model.matrix`, the files in
:mod:`reprocheck.artifacts.matrix_files`, the table in :mod:`reprocheck.report.matrix`;
``python -m reprocheck.integrations.matrix_main`` (run by the nox ``compare`` session
inside a replay environment) prints and writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from reprocheck.artifacts import matrix_files
from reprocheck.comparison.result import ComparisonResult
from reprocheck.errors import InputError
from reprocheck.model.matrix import CellState, Matrix, MatrixCell, version_key

if TYPE_CHECKING:
    from reprocheck.comparison import Policy

__all__ = ["EnvMatrix", "build_matrix", "read_matrix"]

#: The matrix of an environment upgrade: each environment's comparison with the baseline.
EnvMatrix: TypeAlias = Matrix[ComparisonResult]


def build_matrix(
    runs_dir: Path,
    envs: Sequence[str],
    baseline: str,
    *,
    lockfile_hashes: Mapping[str, str] | None = None,
    policy: Policy | None = None,
) -> EnvMatrix:
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
        ArtifactError: a status record or a run is corrupt.
    """
    from reprocheck.comparison import compare

    if baseline not in envs:
        raise InputError(
            f"baseline {baseline!r} is not one of the environments ({', '.join(envs)})",
            hint="Name a lockfile's stem, e.g. torch-2.13.0.",
        )
    runs_dir = Path(runs_dir)
    missing = {env: _missing_run(runs_dir, env, lockfile_hashes) for env in envs}
    cells: list[MatrixCell[ComparisonResult]] = []
    for env in envs:
        gap = missing[env]
        if gap is not None:
            cells.append(MatrixCell(env, gap[0], message=gap[1]))
        elif env == baseline:
            cells.append(MatrixCell(env, "baseline"))
        elif (base := missing[baseline]) is not None:
            why = f"baseline {baseline} {base[0]}" + (f": {base[1]}" if base[1] else "")
            cells.append(MatrixCell(env, "not run", message=f"cannot compare: {why}"))
        else:
            older, newer = sorted((env, baseline), key=version_key)
            result = compare(runs_dir / older, runs_dir / newer, policy=policy)
            cells.append(MatrixCell(env, "compared", older=older, newer=newer, result=result))
    return Matrix(baseline=baseline, cells=tuple(cells))


def _missing_run(
    runs_dir: Path, env: str, hashes: Mapping[str, str] | None
) -> tuple[CellState, str | None] | None:
    """Why ``env`` has no run to compare (its column's state, and why), or None if it has."""
    status = matrix_files.read_status(runs_dir, env)
    if status is None:
        return "not run", "its replay session has not run"
    if hashes is not None and env in hashes and status.lockfile_sha256 != hashes[env]:
        return "not run", "its lockfile changed since the last replay; run it again"
    if status.state in ("not built", "run failed"):
        return status.state, status.message
    if status.state != "ran" or not (runs_dir / env).is_dir():
        return "not run", "its replay session did not finish"
    return None


def read_matrix(path: Path) -> EnvMatrix:
    """The whole matrix recorded in ``path`` (``runs/matrix.json``), comparisons included.

    Raises:
        ArtifactError: the file is missing, not JSON, or not a matrix.
    """
    return matrix_files.read_matrix(path, ComparisonResult.from_dict)
