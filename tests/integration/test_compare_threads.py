"""Real runs in subprocesses with 1 and 2 threads: what compare says about them.

The thread count changes the order of floating-point reductions in the kernels that split
their work across threads. Which kernels do that depends on the CPU and the maths
libraries: convolution, batch norm, layer norm and attention usually part, and on many
CPUs the MLP's matrix products give the same bits either way, but not on all (on AMD EPYC,
MKL's ``mm`` in the MLP's backward pass parts too). So nothing here assumes which
scenarios move: the fixture first measures it, comparing each scenario's final tensors of
the two runs bit for bit, and the tests check that compare reports exactly that.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from real_runs import RealRuns

from reprocheck.artifacts.runs import load_run
from reprocheck.comparison import ComparisonResult, compare

pytestmark = pytest.mark.integration

SCENARIOS = RealRuns.scenarios


@dataclasses.dataclass(frozen=True)
class Measured:
    """Two real runs (1 and 2 threads), what this machine did, and what compare says."""

    one: Path
    two: Path
    same_bits: dict[str, bool]
    result: ComparisonResult


@pytest.fixture(scope="module")
def measured(real_runs: RealRuns) -> Measured:
    """One run with 1 thread, one with 2: measured bit for bit, then compared."""
    one, two = real_runs.get(threads=1), real_runs.get(threads=2)
    same = {name: RealRuns.same_bits(one, two, name) for name in SCENARIOS}
    invariant = [n for n, s in same.items() if s] or ["none"]
    print(f"\nthread-invariant here (1 vs 2 threads): {', '.join(invariant)}")
    return Measured(one, two, same, compare(one, two))


@pytest.mark.parametrize("name", SCENARIOS)
def test_verdict_follows_the_measured_bits(measured: Measured, name: str) -> None:
    """identical exactly when the final tensors were measured bitwise equal."""
    scenario = measured.result.scenario(name)
    if measured.same_bits[name]:
        assert scenario.verdict == "identical", scenario.first_divergence
        assert scenario.first_divergence is None
        assert scenario.kind is None
    else:
        assert scenario.verdict in ("within_tolerance", "drift")
        assert scenario.first_divergence is not None


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_scenario_that_moved_is_located_at_step_0(measured: Measured, name: str) -> None:
    """Where the bits moved: rounding, at step 0, in a traced aten operator of the scenario.

    The thread count changes no input of step 0, so a thread-sensitive kernel already
    parts there; the location is one of the scenario's modules or parameters.
    """
    fd = measured.result.scenario(name).first_divergence
    if measured.same_bits[name]:
        assert fd is None
        return
    assert fd is not None
    assert fd.step == 0
    assert fd.kind == "rounding"
    assert fd.operator is not None
    assert fd.operator.startswith("aten.")
    record = load_run(measured.one).records[name]
    assert fd.location in (*record.modules, *record.init_digests), fd


def test_verdict_line_names_the_scenarios_that_moved(measured: Measured) -> None:
    """The overall verdict is identical only when nothing moved; it never names a scenario
    measured bitwise equal, and it names where the first one that moved parts."""
    result = measured.result
    if all(measured.same_bits.values()):
        assert result.verdict == "identical"
        assert "bitwise equal" in result.summary
        return
    assert result.verdict != "identical"
    head = result.summary.split(":", 1)[0]
    assert not [n for n in SCENARIOS if measured.same_bits[n] and n in head], result.summary
    lead = next(n for n in SCENARIOS if result.scenario(n).verdict == result.verdict)
    assert f"{lead} first diverges" in result.summary


def test_environment_names_the_thread_change(measured: Measured) -> None:
    """The environment list names the thread setting that changed (and the verdict line
    does when the numbers moved)."""
    result = measured.result
    changes = {c.path: (c.baseline, c.candidate) for c in result.environment}
    assert changes.get("env.OMP_NUM_THREADS") == ("1", "2")
    assert changes.get("threads.intra_op") == (1, 2)
    if not all(measured.same_bits.values()):
        assert "threads" in result.summary or "OMP_NUM_THREADS" in result.summary
