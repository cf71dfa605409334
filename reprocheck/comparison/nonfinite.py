"""One line when one run went non-finite (NaN or infinity) and the other did not, or later."""

from __future__ import annotations

import math

from reprocheck.model.records import ScenarioRecord

__all__ = ["nonfinite_line"]


def nonfinite_line(b: ScenarioRecord, c: ScenarioRecord) -> str | None:
    """``candidate: loss non-finite from step 4; baseline finite``, or None.

    None when both runs stayed finite, or both went non-finite at the same step (then
    the numbers themselves say whether they agree). Runs from before the record kept the
    first non-finite step read as finite.
    """
    nb, nc = b.first_nonfinite, c.first_nonfinite
    if nb is None and nc is None:
        return None
    if nb is not None and nc is not None and nb.step == nc.step:
        return None
    sides = [("baseline", nb), ("candidate", nc)]
    # The side that went non-finite first leads.
    sides.sort(key=lambda side: math.inf if side[1] is None else side[1].step)
    (first_side, first), (other_side, other) = sides
    if first is None:  # unreachable: one side at least went non-finite
        return None
    rest = "finite" if other is None else other.text()
    return f"{first_side}: {first.text()}; {other_side} {rest}"
