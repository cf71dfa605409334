"""Reports for people and tools: a comparison as text, JSON, markdown or JUnit XML
(:func:`render`), the fingerprint table, and the HTML report with plots.

``build_report(baseline, candidates)`` compares and gathers the curves for the HTML page;
``render_html(report)`` writes the page. The plots need matplotlib, the optional
``reprocheck[report]`` extra: call :func:`require_matplotlib` first for a clear error.
Nothing here imports torch or matplotlib at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.report.html_model import CandidateReport, LossCurves, Report, build_report
from reprocheck.report.plots import require_matplotlib

if TYPE_CHECKING:
    from reprocheck.comparison.policy import Policy
    from reprocheck.comparison.result import ComparisonResult

__all__ = [
    "FORMATS",
    "CandidateReport",
    "LossCurves",
    "Report",
    "build_report",
    "render",
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


FORMATS: tuple[str, ...] = ("text", "json", "markdown", "junit")


def render(result: ComparisonResult, fmt: str = "text", *, color: bool = False) -> str:
    """Render ``result`` as ``text``, ``json``, ``markdown`` or ``junit`` (XML).

    Raises:
        ValueError: an unknown format (the CLI only offers the four above).
    """
    if fmt == "text":
        from reprocheck.report.text import render_text

        return render_text(result, color=color)
    if fmt == "json":
        from reprocheck.report.jsondoc import render_json

        return render_json(result)
    if fmt == "markdown":
        from reprocheck.report.markdown import render_markdown

        return render_markdown(result)
    if fmt == "junit":
        from reprocheck.report.junit import render_junit

        return render_junit(result)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")
