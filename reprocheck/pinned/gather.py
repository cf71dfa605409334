"""The matrix of runs gathered from several machines: a directory holding one run each.

CI jobs on different runners (CPU kinds, GPU kinds) x lockfiles each write a run and upload
it; a last job gathers them into one directory (``gathered/<name>/run.json``, as
``actions/download-artifact`` lays them out, or a bucket prefix fetched first) and
:func:`gather_matrix` compares every run with the one named as baseline. The result is the
same :class:`~reprocheck.pinned.matrix.EnvMatrix` the nox matrix builds, so the same table,
verdict lines, markdown and JSON render it; a column per run, named after its directory.

Unlike the nox matrix there are no status records: a directory with a manifest is a run, a
directory without one is an incomplete run (an upload cut short), shown as ``not run``.
Each run is compared with the baseline as its baseline side (machines have no upgrade
order), so the environment changes read ``baseline → this machine``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.comparison.result import ComparisonResult
from reprocheck.errors import ArtifactError, InputError
from reprocheck.model.formats import MANIFEST
from reprocheck.model.matrix import Matrix, MatrixCell, version_key
from reprocheck.pinned.matrix import EnvMatrix

if TYPE_CHECKING:
    from reprocheck.comparison import Policy

__all__ = ["gather_matrix", "gathered_runs"]


def gathered_runs(root: Path) -> list[str]:
    """The run directories under ``root`` (complete or not), in version-aware order.

    Raises:
        InputError: ``root`` is not a directory, or holds no directory at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(
            f"{root} is not a directory of runs",
            hint="Give the directory the runs were gathered into (one run per subdirectory).",
        )
    names = sorted(
        (p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=version_key,
    )
    if not names:
        raise InputError(
            f"{root} holds no runs",
            hint="Gather the runs first: one directory per machine, each from `reprocheck run`.",
        )
    return names


def gather_matrix(root: Path, baseline: str, *, policy: Policy | None = None) -> EnvMatrix:
    """Compare every run under ``root`` with the run ``root/baseline``.

    Raises:
        InputError: ``baseline`` is not one of the runs.
        ArtifactError: the baseline is incomplete, or a run is corrupt.
    """
    from reprocheck.comparison import compare

    root = Path(root)
    names = gathered_runs(root)
    if baseline not in names:
        raise InputError(
            f"baseline {baseline!r} is not one of the gathered runs ({', '.join(names)})",
            hint="Name one of the run directories with --baseline.",
        )
    if not (root / baseline / MANIFEST).is_file():
        raise ArtifactError(
            f"the baseline {root / baseline} is not a complete run: {MANIFEST} is missing",
            hint="Upload the baseline's run again, or name another --baseline.",
        )
    cells: list[MatrixCell[ComparisonResult]] = [MatrixCell(baseline, "baseline")]
    for name in names:
        if name == baseline:
            continue
        if not (root / name / MANIFEST).is_file():
            why = f"incomplete run: {MANIFEST} is missing (an upload cut short?)"
            cells.append(MatrixCell(name, "not run", message=why))
            continue
        result = compare(root / baseline, root / name, policy=policy)
        cells.append(MatrixCell(name, "compared", older=baseline, newer=name, result=result))
    return Matrix(baseline=baseline, cells=tuple(cells))
