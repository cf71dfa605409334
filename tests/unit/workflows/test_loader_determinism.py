"""A DataLoader with workers inside ``batch(step)``: its differences are named at the batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows.determinism import check_determinism

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def test_unseeded_worker_augmentation_is_named_as_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is fetched untraced, so the batch digest is the first thing that differs."""
    monkeypatch.chdir(DATA)
    result = check_determinism(
        "loader:augmented", ReplayOptions(steps=1), repeats=2, fresh_process=False
    )
    diff = result.first_difference
    assert result.verdict == "nondeterministic"
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind) == (0, "forward", "batch")
