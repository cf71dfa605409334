"""``reprocheck calibrate`` for real: the rounding envelope judges a thread change and a bug.

The baseline is calibrated (2 threads) on a copy of the built-in transformer made through
the scenario API (``planted:build``, LayerNorm eps 1e-5 as built). Candidates: the same
scenario with 1 thread (a benign reordering: within the envelope wherever it moves the
bits at all, which is measured, not assumed), and a copy whose LayerNorms use eps 1e-6 (a
change of the computation: drift, with the multiple of the envelope stated).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from real_runs import RealRuns

from reprocheck.artifacts.envelope import load_envelope
from reprocheck.cli import cli
from reprocheck.comparison import compare

pytestmark = pytest.mark.integration

NAME = "planted:build"
PLANTED = """
import torch
import reprocheck
from reprocheck.scenarios import transformer


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = transformer.build(ctx)
    for module in scenario.model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = {eps}
    return scenario
"""


@dataclasses.dataclass(frozen=True)
class Runs:
    calibrated: Path
    one_thread: Path
    eps: Path


def _reprocheck(cwd: Path, threads: int, *args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(cwd)}
    env.pop("ATEN_CPU_CAPABILITY", None)
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("calibrate")
    for sub, eps in (("same", "1e-5"), ("eps", "1e-6")):
        (root / sub).mkdir()
        (root / sub / "planted.py").write_text(PLANTED.format(eps=eps), encoding="utf-8")
    steps = ("--steps", "3")
    _reprocheck(root / "same", 2, "calibrate", NAME, *steps, "--out", str(root / "cal"))
    _reprocheck(root / "same", 1, "run", NAME, *steps, "--out", str(root / "one"))
    _reprocheck(root / "eps", 2, "run", NAME, *steps, "--out", str(root / "epsrun"))
    return Runs(root / "cal", root / "one", root / "epsrun")


def test_the_calibrated_run_carries_an_envelope_per_step(runs: Runs) -> None:
    envelopes = load_envelope(runs.calibrated)
    assert envelopes is not None
    envelope = envelopes[NAME]
    assert len(envelope.steps) == 3
    assert "threads=1" in envelope.variants
    assert any(v.startswith("init±1ulp") for v in envelope.variants)
    # The one-ULP perturbations move the parameters, so every parameter has an envelope.
    assert all(envelope.tensors[k] > 0 for k in envelope.tensors if k.startswith("param/"))


def test_the_thread_count_change_is_within_the_envelope(runs: Runs) -> None:
    moved = not RealRuns.same_bits(runs.calibrated, runs.one_thread, NAME)
    print(f"\n1 vs 2 threads move {NAME} here: {moved}")
    scenario = compare(runs.calibrated, runs.one_thread).scenario(NAME)
    if not moved:
        assert scenario.verdict == "identical"
        return
    assert scenario.verdict == "within_tolerance", scenario.envelope
    assert scenario.envelope is not None
    assert scenario.envelope.multiple <= scenario.envelope.safety


def test_the_planted_eps_change_is_drift_beyond_the_envelope(runs: Runs) -> None:
    result = compare(runs.calibrated, runs.eps)
    scenario = result.scenario(NAME)
    assert result.verdict == "drift"
    assert scenario.envelope is not None
    assert scenario.envelope.verdict == "drift"
    assert scenario.envelope.multiple > 100 * scenario.envelope.safety
    assert scenario.envelope.step == 0  # eps enters the very first forward pass


def test_the_report_states_the_multiple_of_the_envelope(runs: Runs) -> None:
    text = CliRunner().invoke(cli, ["compare", str(runs.calibrated), str(runs.eps)])
    assert text.exit_code == 1
    assert "x the rounding envelope at step 0" in text.stdout
    as_json = CliRunner().invoke(
        cli, ["compare", str(runs.calibrated), str(runs.eps), "--format", "json"]
    )
    scenario = json.loads(as_json.stdout)["scenarios"][0]
    assert scenario["envelope"]["verdict"] == "drift"
    assert scenario["envelope"]["step"] == 0
    assert scenario["envelope"]["multiple"] > 1000


def test_without_an_envelope_the_policy_tables_judge(runs: Runs) -> None:
    """The same runs compared the other way round: the candidate carries no envelope."""
    scenario = compare(runs.eps, runs.calibrated).scenario(NAME)
    assert scenario.envelope is None
    assert scenario.verdict == "drift"
