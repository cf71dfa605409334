"""The built-in scenarios catch real drifts: thread count and CPU dispatch level.

Fresh processes run ``mlp``, ``cnn`` and ``transformer`` with ``OMP_NUM_THREADS=1`` and
``2``, and with ``ATEN_CPU_CAPABILITY=default`` (one thread).

Which scenarios a thread change moves depends on the CPU and its maths libraries (on many
CPUs the ``mlp`` is thread-invariant, on others MKL's matrix products are not), so that
test measures it first, comparing the final tensors bit for bit, and checks that the
digests the runs recorded move exactly when the bits did.

The dispatch level is the drift that moves numbers on every x86-64 CPU: ``default`` (no
vector kernels) against the native level (AVX2 or AVX-512, read from the runs rather than
assumed) changes initialisers, reductions and maths functions in every built-in scenario.
Those tests check that compare calls each scenario changed, locates where it first parts
and names the dispatch level among the environment changes.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from real_runs import RealRuns

from reprocheck.artifacts.runs import load_run
from reprocheck.comparison import ComparisonResult, compare

pytestmark = pytest.mark.integration

SCENARIOS = RealRuns.scenarios


def _recorded(run: Path, name: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """Every per-step digest the run recorded for one scenario (batch, parameters, grads)."""
    return [
        (s.batch_digest, dict(s.param_digests), dict(s.grad_digests))
        for s in load_run(run).records[name].steps
    ]


@pytest.mark.parametrize("name", SCENARIOS)
def test_recorded_digests_move_with_the_thread_count_exactly_when_the_bits_do(
    real_runs: RealRuns, name: str
) -> None:
    """1 vs 2 threads: the per-step digests differ if and only if the final tensors do."""
    one, two = real_runs.get(threads=1), real_runs.get(threads=2)
    same_bits = RealRuns.same_bits(one, two, name)
    assert (_recorded(one, name) == _recorded(two, name)) is same_bits
    # The data never depends on the thread count, only the arithmetic does.
    assert [b for b, _, _ in _recorded(one, name)] == [b for b, _, _ in _recorded(two, name)]


@pytest.fixture(scope="module")
def lowered(real_runs: RealRuns) -> tuple[Path, Path, ComparisonResult]:
    """The native dispatch level against ATEN_CPU_CAPABILITY=default, one thread each."""
    native = real_runs.get(threads=1)
    if RealRuns.capability(native) == "DEFAULT":
        message = "torch dispatches to DEFAULT natively here: no vector level to lower from"
        if platform.machine().lower() not in ("x86_64", "amd64"):
            pytest.skip(message)
        pytest.fail(f"{message} (an x86-64 CPU without AVX2?)")
    low = real_runs.get(threads=1, capability="default")
    return native, low, compare(native, low)


def test_default_dispatch_level_is_in_force(lowered: tuple[Path, Path, ComparisonResult]) -> None:
    """The lowered run really dispatched to DEFAULT, and the native one to something else."""
    native, low, _ = lowered
    print(f"\nnative dispatch level here: {RealRuns.capability(native)}")
    assert RealRuns.capability(low) == "DEFAULT"
    assert RealRuns.capability(native) != "DEFAULT"


@pytest.mark.parametrize("name", SCENARIOS)
def test_dispatch_level_moves_every_scenario(
    lowered: tuple[Path, Path, ComparisonResult], name: str
) -> None:
    """Native vs default: the final tensors differ bitwise, and so do the recorded digests."""
    native, low, _ = lowered
    assert not RealRuns.same_bits(native, low, name)
    assert _recorded(native, name) != _recorded(low, name)


@pytest.mark.parametrize("name", SCENARIOS)
def test_compare_locates_the_dispatch_level_drift(
    lowered: tuple[Path, Path, ComparisonResult], name: str
) -> None:
    """Each scenario is not identical and parts at step 0 in an aten operator of its own."""
    native, _, result = lowered
    scenario = result.scenario(name)
    assert scenario.verdict in ("within_tolerance", "drift")
    fd = scenario.first_divergence
    assert fd is not None
    assert fd.step == 0
    assert fd.operator is not None
    assert fd.operator.startswith("aten.")
    record = load_run(native).records[name]
    assert fd.location in (*record.modules, *record.init_digests), fd


def test_compare_names_the_dispatch_level(lowered: tuple[Path, Path, ComparisonResult]) -> None:
    """The environment changes name the measured native level → DEFAULT, and the variable."""
    native, _, result = lowered
    changes = {c.path: (c.baseline, c.candidate) for c in result.environment}
    assert changes.get("cpu.capability") == (RealRuns.capability(native), "DEFAULT")
    assert changes.get("env.ATEN_CPU_CAPABILITY") == (None, "default")
    assert result.verdict != "identical"
    assert "capability" in result.summary.lower()
