"""``check`` judges a changed kernel against a float64 reference: threads and dispatch level.

Real runs in subprocesses. Whether 1 vs 2 threads, or ``ATEN_CPU_CAPABILITY=default`` vs the
native level, moves a scenario's numbers is a fact about this CPU: each test measures it
first (final tensors compared bit for bit, RealRuns.same_bits), then checks what
``reprocheck check`` says: where the bits moved, ``rounding`` with both sides' distance to
the float64 reference in the evidence (or, where the first call to part is a random draw
rounded differently, ``rounding`` saying that a draw has no reference); where they did not,
``identical``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from real_runs import RealRuns

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
FIXED = "planted_scenarios:fixed"


def _check(baseline: Path, *, threads: int, cwd: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("ATEN_CPU_CAPABILITY", None)
    cmd = [sys.executable, "-m", "reprocheck", "check", "--baseline", str(baseline)]
    done = subprocess.run(
        [*cmd, "--format", "json"], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _run_fixed(out: Path, capability: str | None) -> Path:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    cmd = [sys.executable, "-m", "reprocheck", "-q", "run", FIXED, "--out", str(out)]
    subprocess.run(cmd, env=env, cwd=DATA, check=True, capture_output=True)
    return out


def _assert_rounding_with_reference(scenario: dict[str, Any]) -> None:
    first = scenario["first_divergence"]
    assert first["kind"] == "rounding", first
    evidence = first["evidence"]
    if evidence["basis"] == "random-draw":
        assert "the same draw rounded differently" in evidence["text"]
        return
    assert evidence["basis"] == "float64-reference", evidence
    distance = evidence["distance_to_float64"]
    assert set(distance) == {"baseline", "candidate"}
    assert "relative to a float64 reference" in evidence["text"]


@pytest.mark.parametrize("name", RealRuns.scenarios)
def test_threads_one_against_two_is_rounding_against_the_reference(
    real_runs: RealRuns, name: str
) -> None:
    one, two = real_runs.get(threads=1), real_runs.get(threads=2)
    scenario = next(s for s in _check(one, threads=2)["scenarios"] if s["name"] == name)
    if RealRuns.same_bits(one, two, name):
        assert scenario["verdict"] == "identical"
        return
    _assert_rounding_with_reference(scenario)


def test_dispatch_level_default_against_native_is_rounding_against_the_reference(
    tmp_path: Path,
) -> None:
    lowered = _run_fixed(tmp_path / "default", "default")
    native = _run_fixed(tmp_path / "native", None)
    (scenario,) = _check(lowered, threads=2, cwd=DATA)["scenarios"]
    if RealRuns.capability(native) == "DEFAULT" or RealRuns.same_bits(lowered, native, FIXED):
        assert scenario["verdict"] == "identical"
        return
    _assert_rounding_with_reference(scenario)
    assert scenario["first_divergence"]["evidence"]["basis"] == "float64-reference"
