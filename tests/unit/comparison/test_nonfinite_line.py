"""Which run went non-finite first, as compare's leading line."""

from __future__ import annotations

import pytest

from reprocheck.comparison.result import ScenarioComparison
from reprocheck.comparison.runs import nonfinite_line
from reprocheck.model.records import NonFinite, ScenarioConfig, ScenarioRecord


def _record(nonfinite: NonFinite | None) -> ScenarioRecord:
    config = ScenarioConfig(steps=1, seed=0, device="cpu", dtype="float32", trace_steps=0)
    return ScenarioRecord(
        name="s",
        source="s:b",
        config=config,
        init_digests={},
        steps=(),
        trace=(),
        tensors={},
        first_nonfinite=nonfinite,
    )


LOSS4 = NonFinite(step=4, what="loss")
GRAD6 = NonFinite(step=6, what="grad of fc.weight")


@pytest.mark.parametrize(
    ("b", "c", "line"),
    [
        (None, None, None),
        (LOSS4, NonFinite(step=4, what="param fc.bias"), None),
        (None, LOSS4, "candidate: loss non-finite from step 4; baseline finite"),
        (LOSS4, None, "baseline: loss non-finite from step 4; candidate finite"),
        (
            GRAD6,
            LOSS4,
            "candidate: loss non-finite from step 4; "
            "baseline grad of fc.weight non-finite from step 6",
        ),
    ],
)
def test_nonfinite_line(b: NonFinite | None, c: NonFinite | None, line: str | None) -> None:
    assert nonfinite_line(_record(b), _record(c)) == line


def test_scenario_comparison_round_trips_nonfinite_and_reads_old_json() -> None:
    s = ScenarioComparison(name="s", verdict="drift", nonfinite="candidate: x; baseline finite")
    data = s.to_dict()
    assert ScenarioComparison.from_dict(data) == s
    del data["nonfinite"]
    assert ScenarioComparison.from_dict(data).nonfinite is None
