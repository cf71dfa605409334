"""calibrate() on a tiny scenario: a run that reads as a baseline, plus its envelope."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprocheck.artifacts.envelope import load_envelope
from reprocheck.artifacts.runs import load_run
from reprocheck.comparison import compare
from reprocheck.errors import InputError
from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows.calibrate import calibrate

TINY = """
import torch, reprocheck

def build(ctx):
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: x[step],
        loss=lambda model, b: model(b).square().mean(),
    )
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "tinycal.py").write_text(TINY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tinycal:build"


def test_calibrate_writes_a_run_with_an_envelope_per_step(tiny: str, tmp_path: Path) -> None:
    out = calibrate([tiny], tmp_path / "cal", ReplayOptions(steps=2))
    run = load_run(out)
    envelope = (load_envelope(out) or {})[tiny]
    assert list(run.records) == [tiny]
    assert len(envelope.steps) == 2
    assert set(envelope.steps[0]) >= {"loss", "grad_norm", "param_norm"}
    assert set(envelope.tensors) == set(run.records[tiny].tensors)
    # One-ULP perturbations of the initial parameters move every parameter.
    assert all(envelope.tensors[k] > 0 for k in envelope.tensors if k.startswith("param/"))


def test_a_calibrated_run_compared_with_itself_is_identical(tiny: str, tmp_path: Path) -> None:
    out = calibrate([tiny], tmp_path / "cal", ReplayOptions(steps=2))
    scenario = compare(out, out).scenario(tiny)
    assert scenario.verdict == "identical"
    assert scenario.envelope is None


def test_calibrate_refuses_a_distributed_layout(tiny: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="one process"):
        calibrate([tiny], tmp_path / "cal", ReplayOptions(steps=2, world_size=2))
    assert not (tmp_path / "cal").exists()
