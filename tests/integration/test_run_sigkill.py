"""SIGKILL during `reprocheck run` leaves nothing that reads as a complete run.

The run is killed at several moments (while torch loads, during the first scenarios,
near the end); each time --out either does not exist or does not load, and the next run
into the same --out succeeds without any cleanup by hand.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run
from reprocheck.errors import ArtifactError

pytestmark = pytest.mark.integration

# Long enough that no kill below comes after the run has finished.
LONG = ["mlp", "cnn", "rnn", "--steps", "400"]


def _assert_incomplete(out: Path) -> None:
    if out.exists():
        with pytest.raises(ArtifactError):
            load_run(out)


@pytest.mark.parametrize("delay", [0.5, 3.0, 6.0])
def test_killed_run_leaves_no_complete_artifact(tmp_path: Path, delay: float) -> None:
    """After SIGKILL at `delay` seconds, --out is absent or unreadable; a rerun succeeds."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprocheck", "run", *LONG, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _assert_incomplete(out)
    again = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "mlp", "--steps", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert load_run(out).scenario_names == ["mlp"]
    # The killed run's partial directory was swept away by the next run.
    assert not list(tmp_path.glob(".run.partial-*"))


def test_killed_forced_rerun_keeps_the_old_run(tmp_path: Path) -> None:
    """Killing a --force run over an existing run leaves the old run complete."""
    out = tmp_path / "run"
    first = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "mlp", "--steps", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprocheck", "run", *LONG, "--force", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3.0)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load_run(out).scenario_names == ["mlp"]
