"""`--device cuda` replays every built-in scenario on a GPU, deterministically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run
from reprocheck.scenarios import BUILTIN_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.cuda]


def _run(out: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "--device", "cuda", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_cuda_runs_are_identical_and_recorded_as_cuda(tmp_path: Path) -> None:
    """Two GPU runs write the same tensor bytes for every built-in; the config says cuda."""
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    run_a, run_b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    for name in BUILTIN_NAMES:
        assert run_a.records[name].config.device == "cuda"
        assert run_a.tensor_path(name).read_bytes() == run_b.tensor_path(name).read_bytes(), name
        assert run_a.records[name].trace, name
