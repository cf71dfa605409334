"""Comparing two runs: numerics, tolerance policy, verdicts, first divergence and reports.

``compare(baseline, candidate, policy=...)`` returns a :class:`ComparisonResult`; it raises
only when it *cannot* compare (a missing or corrupt artifact, different scenarios). The
renderers turn a result into text, JSON, markdown or JUnit XML. Nothing here imports torch
at import time.
"""

from __future__ import annotations

from reprocheck.comparison.envdiff import diff_fingerprints
from reprocheck.comparison.policy import Policy, Tolerance, load_policy
from reprocheck.comparison.result import (
    REPORT_SCHEMA_VERSION,
    ComparisonResult,
    EnvChange,
    FirstDivergence,
    GrowthPoint,
    ScenarioComparison,
    Structural,
)
from reprocheck.comparison.runs import compare

FORMATS: tuple[str, ...] = ("text", "json", "markdown", "junit")


def render(result: ComparisonResult, fmt: str = "text", *, color: bool = False) -> str:
    """Render ``result`` as ``text``, ``json``, ``markdown`` or ``junit`` (XML).

    Raises:
        ValueError: an unknown format (the CLI only offers the four above).
    """
    if fmt == "text":
        from reprocheck.comparison.render_text import render_text

        return render_text(result, color=color)
    if fmt == "json":
        from reprocheck.comparison.render_json import render_json

        return render_json(result)
    if fmt == "markdown":
        from reprocheck.comparison.render_markdown import render_markdown

        return render_markdown(result)
    if fmt == "junit":
        from reprocheck.comparison.render_junit import render_junit

        return render_junit(result)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "REPORT_SCHEMA_VERSION",
    "ComparisonResult",
    "EnvChange",
    "FirstDivergence",
    "GrowthPoint",
    "Policy",
    "ScenarioComparison",
    "Structural",
    "Tolerance",
    "compare",
    "diff_fingerprints",
    "load_policy",
    "render",
]
