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
order), so the environment changes read ``baseline → this machine``; runs on CPU and on
CUDA each have their own baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _devices(run: Path) -> tuple[str, ...]:
    """The devices a complete run's scenarios ran on (``("cpu",)``, ``("cuda",)``)."""
    from reprocheck.artifacts.runs import load_run

    return tuple(sorted({r.config.device for r in load_run(run).records.values()}))


def gather_matrix(
    root: Path, baselines: str | Sequence[str], *, policy: Policy | None = None
) -> EnvMatrix:
    """Compare every run under ``root`` with its baseline among ``baselines``.

    One baseline is enough when every run used the same device. Runs on CPU and on CUDA
    cannot be compared with each other, so a CI matrix over CPU and GPU runners names a
    baseline per device: each run is compared with the first baseline that ran on the
    same device(s); a run with none is a ``not run`` column that says so.

    Raises:
        InputError: a baseline is not one of the runs, or two name the same device.
        ArtifactError: a baseline is incomplete, or a run is corrupt.
    """
    from reprocheck.comparison import compare

    root = Path(root)
    names = gathered_runs(root)
    wanted = [baselines] if isinstance(baselines, str) else list(baselines)
    by_device: dict[tuple[str, ...], str] = {}
    for baseline in wanted:
        _check_baseline(root, baseline, names)
        by_device.setdefault(_devices(root / baseline), baseline)
    cells: list[MatrixCell[ComparisonResult]] = [MatrixCell(b, "baseline") for b in wanted]
    for name in names:
        if name in wanted:
            continue
        if not (root / name / MANIFEST).is_file():
            why = f"incomplete run: {MANIFEST} is missing (an upload cut short?)"
            cells.append(MatrixCell(name, "not run", message=why))
            continue
        devices = _devices(root / name)
        base = by_device.get(devices)
        if base is None:
            why = f"no baseline ran on {'+'.join(devices)} (name one with --baseline)"
            cells.append(MatrixCell(name, "not run", message=why))
            continue
        result = compare(root / base, root / name, policy=policy)
        cells.append(MatrixCell(name, "compared", older=base, newer=name, result=result))
    return Matrix(baseline=", ".join(wanted), cells=tuple(cells))


def _check_baseline(root: Path, baseline: str, names: list[str]) -> None:
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
