"""Compare against a calibrated baseline: the verdicts judged by its rounding envelope.

A run written by ``reprocheck calibrate`` carries an envelope per scenario
(:mod:`reprocheck.artifacts.envelope`). Every scenario of such a baseline that is not
bitwise identical to the candidate gets its verdict from
:func:`reprocheck.comparison.envelope.judge` instead of the per-dtype tolerance tables
(non-finite training stays drift). Baselines without an envelope are left as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck.comparison.envelope import judge
from reprocheck.comparison.result import ScenarioComparison

if TYPE_CHECKING:
    from reprocheck.artifacts.runs import Run
    from reprocheck.model.records import ScenarioRecord

__all__ = ["judge_envelopes"]

Normalize = Callable[["ScenarioRecord", "ScenarioRecord"], "ScenarioRecord"]


def judge_envelopes(
    baseline_path: Path,
    run_b: Run,
    run_c: Run,
    scenarios: tuple[ScenarioComparison, ...],
    normalize: Normalize,
) -> tuple[ScenarioComparison, ...]:
    """``scenarios`` with the verdicts of the baseline's envelope, where it has one.

    ``normalize(b, c)`` is the candidate record as compare reads it (norms of bitwise
    equal tensors taken from the baseline: the recording's own arithmetic is not drift).
    """
    from reprocheck.artifacts.envelope import load_envelope

    envelopes = load_envelope(baseline_path)
    if not envelopes:
        return scenarios
    out = []
    for s in scenarios:
        envelope = envelopes.get(s.name)
        if envelope is None or s.verdict == "identical":
            out.append(s)
            continue
        b = run_b.records[s.name]
        judged = judge(envelope, b, normalize(b, run_c.records[s.name]), s.tensors)
        verdict = "drift" if s.nonfinite is not None else judged.verdict
        out.append(dataclasses.replace(s, verdict=verdict, envelope=judged))
    return tuple(out)
