"""What a report shows: the comparisons of every candidate with the baseline, and the curves.

A :class:`ComparisonResult` carries verdicts, first divergences and the per-step growth, but
not the raw per-step losses; the loss-curve overlay needs them, so they are read here from
the run records (through :mod:`reprocheck.artifacts`, the only package that knows the files).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.comparison.result import ComparisonResult, Verdict, worst_verdict
from reprocheck.errors import ExitCode, InputError
from reprocheck.model.formats import MANIFEST

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy

__all__ = ["CandidateReport", "LossCurves", "Report", "build_report"]


@dataclasses.dataclass(frozen=True, slots=True)
class LossCurves:
    """The loss of one scenario per step, in the baseline and in the candidate."""

    steps: tuple[int, ...]
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class CandidateReport:
    """One candidate compared with the baseline.

    Attributes:
        path: the candidate as given on the command line.
        label: a short name for tables and headings (its directory name, unless two
            candidates share one).
        result: the comparison, as ``reprocheck compare`` computes it.
        losses: scenario name -> loss curves (empty for fingerprint files).
    """

    path: str
    label: str
    result: ComparisonResult
    losses: dict[str, LossCurves]


@dataclasses.dataclass(frozen=True)
class Report:
    """Everything the HTML report shows, and the exit code it implies."""

    baseline: str
    candidates: tuple[CandidateReport, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict over every candidate."""
        return worst_verdict([c.result.verdict for c in self.candidates])

    @property
    def exit_code(self) -> ExitCode:
        """0 when every candidate is identical or within tolerance, 1 on drift in any."""
        return ExitCode.DRIFT if self.verdict == "drift" else ExitCode.OK

    @property
    def scenario_names(self) -> list[str]:
        """Every scenario any comparison holds, in first-seen order."""
        names: list[str] = []
        for c in self.candidates:
            names += [s.name for s in c.result.scenarios if s.name not in names]
        return names


def _run_dir(path: Path) -> Path:
    # compare() accepts a run directory or its run.json; the curves are read the same way.
    return path.parent if path.name == MANIFEST and not path.is_dir() else path


def _label(path: Path) -> str:
    run = _run_dir(path)
    return run.resolve().name or str(path)


def _labels(paths: Sequence[Path]) -> list[str]:
    short = [_label(p) for p in paths]
    # Two candidates called ``run`` in different folders: fall back to the paths as given.
    return [s if short.count(s) == 1 else str(p) for s, p in zip(short, paths, strict=True)]


def _losses(baseline: Path, candidate: Path) -> dict[str, LossCurves]:
    from reprocheck.artifacts import runs as store

    run_b = store.load_run(_run_dir(baseline))
    run_c = store.load_run(_run_dir(candidate))
    curves: dict[str, LossCurves] = {}
    for name, rb in run_b.records.items():
        rc = run_c.records.get(name)
        if rc is None:
            continue
        curves[name] = LossCurves(
            steps=tuple(s.step for s in rb.steps),
            baseline=tuple(s.loss for s in rb.steps),
            candidate=tuple(s.loss for s in rc.steps),
        )
    return curves


def build_report(
    baseline: Path | str,
    candidates: Sequence[Path | str],
    *,
    policy: Policy | None = None,
) -> Report:
    """Compare every candidate with the baseline and gather what the report draws.

    Args:
        baseline: a run directory (or two fingerprint files' first one).
        candidates: one or more artifacts of the same kind as ``baseline``.
        policy: the tolerance policy; the ``default`` preset when None.

    Raises:
        InputError: no candidate was given.
        ArtifactError: an artifact is missing, corrupt, or not comparable with the baseline.
    """
    from reprocheck.comparison import compare

    if not candidates:
        raise InputError(
            "no candidate to compare with the baseline",
            hint="Give at least one candidate: reprocheck report BASELINE CANDIDATE -o FILE.",
        )
    paths = [Path(c) for c in candidates]
    reports = []
    for path, label in zip(paths, _labels(paths), strict=True):
        result = compare(baseline, path, policy=policy)
        losses = _losses(Path(baseline), path) if result.mode == "runs" else {}
        reports.append(CandidateReport(str(path), label, result, losses))
    return Report(baseline=str(baseline), candidates=tuple(reports))
