"""The HTML report: every candidate against one baseline, with plots, in one file.

``build_report(baseline, candidates)`` compares and gathers the curves;
``render_html(report)`` writes the page. The plots need matplotlib, the optional
``reprocheck[report]`` extra: call :func:`require_matplotlib` first for a clear error.
Nothing here imports torch or matplotlib at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.report.model import CandidateReport, LossCurves, Report, build_report
from reprocheck.report.plots import require_matplotlib

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy

__all__ = [
    "CandidateReport",
    "LossCurves",
    "Report",
    "build_report",
    "render_html",
    "require_matplotlib",
    "write_report",
]


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (see :mod:`reprocheck.report.html`)."""
    from reprocheck.report.html import render_html as render

    return render(report)


def write_report(
    baseline: Path | str,
    candidates: list[Path | str] | tuple[Path | str, ...],
    output: Path,
    *,
    policy: Policy | None = None,
) -> Report:
    """Compare, render and write the page atomically to ``output``; return the report.

    Raises:
        InputError: matplotlib is missing, no candidate, or ``output`` is not writable.
        ArtifactError: an artifact is missing, corrupt or not comparable.
    """
    from reprocheck._io import atomic_write_text

    require_matplotlib()
    report = build_report(baseline, candidates, policy=policy)
    atomic_write_text(output, render_html(report))
    return report
