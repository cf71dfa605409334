"""Two `reprocheck run` in the same environment write byte-identical tensor files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run
from reprocheck.scenarios import BUILTIN_NAMES

pytestmark = pytest.mark.integration


def _run(out: Path, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "--out", str(out), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_two_runs_write_identical_tensor_files(tmp_path: Path) -> None:
    """Every built-in scenario's tensors.safetensors is the same bytes in two fresh runs."""
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first)
    _run(second)
    run1, run2 = load_run(first), load_run(second)
    assert run1.scenario_names == list(BUILTIN_NAMES)
    for name in BUILTIN_NAMES:
        assert run1.tensor_path(name).read_bytes() == run2.tensor_path(name).read_bytes(), name
        # The records agree too, step by step and operator by operator.
        assert run1.records[name].steps == run2.records[name].steps
        assert run1.records[name].trace == run2.records[name].trace


def test_other_seed_writes_other_tensors(tmp_path: Path) -> None:
    """The byte equality above is not vacuous: another seed changes the files."""
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first, "mlp", "--steps", "2")
    _run(second, "mlp", "--steps", "2", "--seed", "1")
    path1, path2 = load_run(first).tensor_path("mlp"), load_run(second).tensor_path("mlp")
    assert path1.read_bytes() != path2.read_bytes()
