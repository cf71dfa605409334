"""Lean runs (``--keep params|digests``) of a GPT-like user scenario, real runs in fresh
processes: small on disk, still localizing the first divergent step and operator.

The candidate runs with ``ATEN_CPU_CAPABILITY=default`` (no vector kernels), which moves
numbers on every x86-64 CPU; the baseline at the native level. The 67M-parameter case
is measured by ``benchmarks/rows_lean.py`` (too slow for a test on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run
from reprocheck.comparison import compare

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).parents[1] / "data" / "scenarios"


def _run(out: Path, keep: str, **env: str) -> Path:
    environ = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    environ.update(OMP_NUM_THREADS="1", **env)
    command = [sys.executable, "-m", "reprocheck", "run", "gpt:build", "--steps", "2"]
    command += ["--keep", keep, "--out", str(out)]
    done = subprocess.run(
        command, cwd=SCENARIOS, env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return out


def _size(run: Path) -> int:
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lean")
    return {
        "all": _run(root / "all", "all"),
        "params": _run(root / "params", "params"),
        "digests": _run(root / "digests", "digests"),
        "lowered": _run(root / "lowered", "digests", ATEN_CPU_CAPABILITY="default"),
    }


def test_the_manifest_records_the_mode_and_the_file_holds_only_what_is_kept(
    runs: dict[str, Path],
) -> None:
    for keep in ("all", "params", "digests"):
        run = load_run(runs[keep])
        assert json.loads((runs[keep] / "run.json").read_text())["keep"] == keep
        record = run.records["gpt:build"]
        assert all(info.digest for info in record.tensors.values())
        with run.open_tensors("gpt:build") as reader:
            stored = set(reader.keys())
        expected = {
            "all": set(record.tensors),
            "params": {k for k in record.tensors if k.startswith(("param/", "buffer/"))},
            "digests": set(),
        }[keep]
        assert stored == expected
    assert _size(runs["digests"]) < _size(runs["params"]) < _size(runs["all"])


@pytest.mark.parametrize("keep", ["params", "digests"])
def test_lean_against_full_compares_what_both_have(runs: dict[str, Path], keep: str) -> None:
    """Same environment, same seed: identical, the digest-only tensors counted as equal."""
    result = compare(runs["all"], runs[keep])
    scenario = result.scenario("gpt:build")
    assert result.verdict == "identical", result.summary
    assert scenario.tensor_counts == {
        "equal": len(load_run(runs["all"]).records["gpt:build"].tensors)
    }
    assert any("compared by digest only" in note for note in scenario.notes), scenario.notes


def test_digest_runs_still_localize_the_first_divergence(runs: dict[str, Path]) -> None:
    result = compare(runs["digests"], runs["lowered"])
    scenario = result.scenario("gpt:build")
    assert scenario.verdict != "identical"
    fd = scenario.first_divergence
    assert fd is not None
    assert fd.step == 0
    assert fd.operator is not None
    assert fd.operator.startswith("aten."), fd
    statuses = {d.status for d in scenario.tensors}
    assert statuses <= {"digest_differs"}, statuses
    assert any("bitwise" in note for note in scenario.notes), scenario.notes
    assert _size(runs["digests"]) < 5_000_000
