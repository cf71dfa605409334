"""JSON report (``compare --format json``): one object, keys documented in docs/compare.md."""

from __future__ import annotations

import json

from reprocheck.comparison.result import ComparisonResult

__all__ = ["render_json"]


def render_json(result: ComparisonResult) -> str:
    """The result as one JSON object with sorted keys (NaN and infinities as strings)."""
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"
