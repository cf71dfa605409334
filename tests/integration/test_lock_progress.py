"""`reprocheck lock` is never silent for long: a heartbeat while pip-compile resolves.

A resolve of torch with hashes takes minutes; a command that prints one line and then
nothing for that long looks hung. The stand-in ``piptools`` (tests/data/slow_piptools)
resolves for 22 s and prints nothing, the worst case for a person watching.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SLOW_PIPTOOLS = Path(__file__).resolve().parents[1] / "data" / "slow_piptools"
LONGEST_SILENCE_S = 10.0


def _timed_lines(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[float]]:
    """Run ``command``; its exit code and the seconds since start of each stderr line."""
    started = time.monotonic()
    stamps: list[float] = []
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:

        def read() -> None:
            stamps.extend(time.monotonic() - started for _line in process.stderr or ())

        reader = threading.Thread(target=read)
        reader.start()
        code = process.wait(timeout=120)
        reader.join()
    stamps.append(time.monotonic() - started)  # the end counts as the last thing seen
    return code, stamps


def test_lock_speaks_at_least_every_ten_seconds(tmp_path: Path) -> None:
    """A 22 s silent resolve: no gap over 10 s in stderr, and the lockfile is written."""
    env = {**os.environ, "PYTHONPATH": str(SLOW_PIPTOOLS), "SLOW_PIPTOOLS_SECONDS": "22"}
    command = [sys.executable, "-m", "reprocheck", "lock", "--env", "slow", "--pin", "click"]
    command += ["--output-dir", "new/lockfiles"]  # missing: lock creates it
    code, stamps = _timed_lines(command, tmp_path, env)
    assert code == 0
    assert (tmp_path / "new" / "lockfiles" / "slow.txt").is_file()
    assert stamps[-1] >= 22  # the stand-in really was slow
    gaps = [b - a for a, b in zip([0.0, *stamps], stamps, strict=False)]
    assert max(gaps) <= LONGEST_SILENCE_S, f"silent for {max(gaps):.1f} s: {stamps}"
    assert len(stamps) >= 4  # the first line, heartbeats, "wrote ..."
