"""Every param group's learning rate is compared per step (issue 13, item 4)."""

from __future__ import annotations

import dataclasses

from reprocheck.comparison.localize import record_divergence
from reprocheck.model.records import ScenarioRecord
from reprocheck.replay import replay_scenario


def _with_lrs(record: ScenarioRecord, lrs: tuple[float, ...]) -> ScenarioRecord:
    steps = tuple(dataclasses.replace(s, lrs=lrs) for s in record.steps)
    return dataclasses.replace(record, steps=steps)


def test_a_second_group_lr_change_is_located_at_its_group() -> None:
    record, _ = replay_scenario("mlp", steps=1, trace_steps=0)
    found = record_divergence(_with_lrs(record, (0.05, 0.1)), _with_lrs(record, (0.05, 0.2)))
    assert found is not None
    assert (found.step, found.phase, found.location) == (0, "optimizer", "lrs[1]")


def test_a_run_without_lrs_is_not_read_as_an_lr_change() -> None:
    record, _ = replay_scenario("mlp", steps=1, trace_steps=0)
    assert record.steps[0].lrs == (0.05,)
    assert record_divergence(record, _with_lrs(record, ())) is None
