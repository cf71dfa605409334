"""Real runs in subprocesses with 1 and 2 threads: what compare says about them.

Thread count changes the order of floating-point reductions in convolution, batch norm,
layer norm and attention kernels, so those scenarios part by rounding; the MLP's kernels
give the same bits either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.comparison import ComparisonResult, compare

pytestmark = pytest.mark.integration

SCENARIOS = ("mlp", "cnn", "transformer")


def _run(out: Path, threads: int) -> Path:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", *SCENARIOS, "--out", str(out), "--steps", "2"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ComparisonResult:
    """One run with 1 thread, one with 2 threads, compared."""
    tmp = tmp_path_factory.mktemp("threads")
    return compare(_run(tmp / "t1", 1), _run(tmp / "t2", 2))


def test_conv_and_attention_scenarios_are_not_identical(result: ComparisonResult) -> None:
    """cnn and transformer differ between 1 and 2 threads."""
    assert result.scenario("cnn").verdict != "identical"
    assert result.scenario("transformer").verdict != "identical"


def test_mlp_is_identical(result: ComparisonResult) -> None:
    """The MLP gives the same bits with 1 and 2 threads."""
    assert result.scenario("mlp").verdict == "identical"


@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_first_divergence_names_an_operator_in_step_0(result: ComparisonResult, name: str) -> None:
    """The first divergence is a traced aten operator at step 0, with its module path."""
    fd = result.scenario(name).first_divergence
    assert fd is not None
    assert fd.step == 0
    assert fd.operator is not None
    assert fd.operator.startswith("aten.")
    assert fd.location.startswith(name)


def test_environment_names_the_thread_change(result: ComparisonResult) -> None:
    """The environment list names the thread setting that changed."""
    changes = {c.path: (c.baseline, c.candidate) for c in result.environment}
    assert changes.get("env.OMP_NUM_THREADS") == ("1", "2")
    assert changes.get("threads.intra_op") == (1, 2)
    assert "threads" in result.summary or "OMP_NUM_THREADS" in result.summary
