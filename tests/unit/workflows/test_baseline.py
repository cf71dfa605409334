"""Baseline checks (the pytest plugin's core): record, pass, fail with where, update."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reprocheck.artifacts import runs as store
from reprocheck.artifacts import tensorsets as tensorset
from reprocheck.comparison.policy import Policy, Tolerance
from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows import baseline

ONE_STEP = ReplayOptions(steps=1)


def _tensors(delta: float = 0.0) -> dict[str, torch.Tensor]:
    out = torch.linspace(-1, 1, 12).reshape(3, 4)
    out[2, 1] += delta
    return {"out": out, "ids": torch.arange(4)}


def test_missing_tensor_baseline_is_recorded(tmp_path: Path) -> None:
    """No baseline: the tensors are saved and the outcome says ``recorded``."""
    outcome = baseline.check_tensors(tmp_path / "b", _tensors())
    assert outcome.status == "recorded"
    assert list(tensorset.load(tmp_path / "b").tensors) == ["out", "ids"]


def test_same_tensors_pass(tmp_path: Path) -> None:
    """The same tensors again: passed, nothing differs."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    outcome = baseline.check_tensors(tmp_path / "b", _tensors())
    assert outcome.status == "passed"
    assert outcome.diffs == ()


def test_moved_element_fails_naming_tensor_index_and_ulp(tmp_path: Path) -> None:
    """One element moved by 1e-3: failed, first divergence names tensor, index, error, ULP."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    outcome = baseline.check_tensors(tmp_path / "b", _tensors(1e-3))
    assert outcome.status == "failed"
    first = outcome.message.splitlines()[1]
    assert first.startswith("first divergence: tensors/out: exceeds_tolerance, 1 of 12 elements")
    assert "at [2, 1]" in first
    assert "ULP max" in first
    assert "--reprocheck-update" in outcome.message


def test_first_divergence_follows_the_order_given(tmp_path: Path) -> None:
    """Two layers drift, the later one more: the first divergence is the earlier layer."""
    layers = {"layer2": torch.ones(3), "layer1": torch.ones(3)}
    baseline.check_tensors(tmp_path / "b", layers)
    outcome = baseline.check_tensors(
        tmp_path / "b", {"layer2": torch.ones(3) * 2, "layer1": torch.ones(3) + 1e-3}
    )
    lines = outcome.message.splitlines()
    assert lines[1].startswith("first divergence: tensors/layer2:")
    assert lines[2].startswith("  then tensors/layer1:")


def test_tiny_change_within_the_policy_passes(tmp_path: Path) -> None:
    """A change inside the policy's tolerance passes, though not bitwise equal."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    policy = Policy(overrides=(("tensors/*", Tolerance(rtol=1e-2, atol=1e-2)),))
    outcome = baseline.check_tensors(tmp_path / "b", _tensors(1e-3), policy=policy)
    assert outcome.status == "passed"
    assert [d.status for d in outcome.diffs] == ["within_tolerance"]


def test_integer_tensors_compare_exactly_under_any_policy(tmp_path: Path) -> None:
    """Integer tensors ignore tolerances: an index off by one fails under a loose policy."""
    baseline.check_tensors(tmp_path / "b", {"ids": torch.arange(4)})
    policy = Policy.from_preset("loose")
    outcome = baseline.check_tensors(
        tmp_path / "b", {"ids": torch.tensor([0, 1, 2, 4])}, policy=policy
    )
    assert outcome.status == "failed"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ({"out": torch.zeros(3, 4)}, "tensors/ids: in the baseline but not given now"),
        (
            {**_tensors(), "extra": torch.ones(1)},
            "tensors/extra: given now but not in the baseline",
        ),
        ({"out": torch.zeros(4, 3), "ids": torch.arange(4)}, "tensors/out: shape [3, 4] -> [4, 3]"),
        (
            {"out": torch.zeros(3, 4, dtype=torch.float64), "ids": torch.arange(4)},
            "tensors/out: dtype float32 -> float64",
        ),
    ],
)
def test_structural_differences_fail(
    tmp_path: Path, now: dict[str, torch.Tensor], expected: str
) -> None:
    """Missing, extra, reshaped or retyped tensors fail and say which."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    outcome = baseline.check_tensors(tmp_path / "b", now)
    assert outcome.status == "failed"
    assert expected in outcome.message


def test_update_rewrites_only_a_failing_tensor_baseline(tmp_path: Path) -> None:
    """update=True: a drifted baseline is re-recorded; a passing one is left alone."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    manifest = tmp_path / "b" / tensorset.MANIFEST
    before = manifest.stat().st_mtime_ns
    assert baseline.check_tensors(tmp_path / "b", _tensors(), update=True).status == "passed"
    assert manifest.stat().st_mtime_ns == before
    assert baseline.check_tensors(tmp_path / "b", _tensors(1e-3), update=True).status == "updated"
    assert baseline.check_tensors(tmp_path / "b", _tensors(1e-3)).status == "passed"


def test_unreadable_tensor_baseline_fails_unless_updating(tmp_path: Path) -> None:
    """A corrupt manifest fails with the reason; update=True replaces it."""
    baseline.check_tensors(tmp_path / "b", _tensors())
    (tmp_path / "b" / tensorset.MANIFEST).write_text("{", encoding="utf-8")
    failed = baseline.check_tensors(tmp_path / "b", _tensors())
    assert failed.status == "failed"
    assert "the baseline cannot be read" in failed.message
    assert baseline.check_tensors(tmp_path / "b", _tensors(), update=True).status == "updated"


def test_scenario_baseline_records_then_passes(tmp_path: Path) -> None:
    """A built-in scenario: recorded as a one-scenario run, then replayed and identical."""
    assert baseline.check_scenario(tmp_path / "b", "mlp", ONE_STEP).status == "recorded"
    assert list(store.load_run(tmp_path / "b").records) == ["mlp"]
    outcome = baseline.check_scenario(tmp_path / "b", "mlp", ONE_STEP)
    assert outcome.status == "passed"
    assert outcome.result is not None
    assert outcome.result.verdict == "identical"


def test_scenario_with_other_seed_fails_naming_the_setting(tmp_path: Path) -> None:
    """Checking with another seed than the baseline's fails before replaying; update fixes."""
    baseline.check_scenario(tmp_path / "b", "mlp", ONE_STEP)
    outcome = baseline.check_scenario(tmp_path / "b", "mlp", ReplayOptions(steps=1, seed=1))
    assert outcome.status == "failed"
    assert "recorded with other settings (seed 0 -> 1)" in outcome.message
    updated = baseline.check_scenario(
        tmp_path / "b", "mlp", ReplayOptions(steps=1, seed=1), update=True
    )
    assert updated.status == "updated"
    assert store.load_run(tmp_path / "b").records["mlp"].config.seed == 1


def test_scenario_baseline_holding_another_scenario_fails(tmp_path: Path) -> None:
    """A baseline directory recorded for another scenario is not silently reused."""
    baseline.check_scenario(tmp_path / "b", "mlp", ONE_STEP)
    outcome = baseline.check_scenario(tmp_path / "b", "cnn", ONE_STEP)
    assert outcome.status == "failed"
    assert "holds scenario 'mlp', not 'cnn'" in outcome.message
