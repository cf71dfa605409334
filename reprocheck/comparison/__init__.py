"""Comparing two runs: numerics, tolerance policy, verdicts, first divergence and reports.

``compare(baseline, candidate, policy=...)`` returns a :class:`ComparisonResult`; it raises
only when it *cannot* compare (a missing or corrupt artifact, different scenarios). The
renderers (:mod:`reprocheck.report`) turn a result into text, JSON, markdown or JUnit XML.
Nothing here imports torch at import time.
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

__all__ = [
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
]
