"""run, determinism and check print each scenario's line when that scenario finishes.

The stream is read with timestamps from a real subprocess: ``tiny`` finishes quickly,
``slow`` then takes at least 3 s (three batches of 1 s each). A line for ``tiny`` that is
printed only at the end would arrive after ``slow``'s replays, not seconds before the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
SLOW_S = 3.0  # slow:build's three batches of one second each


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("tiny.py", "slow.py"):
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _stream(args: list[str], cwd: Path, *, stream: str) -> tuple[int, list[tuple[float, str]]]:
    """Run ``python -m reprocheck ARGS``; exit code and (seconds, line) of ``stream``."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        [sys.executable, "-m", "reprocheck", *args],
        cwd=cwd,
        env={**os.environ, "CI": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        watched = process.stdout if stream == "stdout" else process.stderr
        other = process.stderr if stream == "stdout" else process.stdout

        def read() -> None:
            lines.extend((time.monotonic() - started, line.rstrip("\n")) for line in watched or ())

        reader = threading.Thread(target=read)
        reader.start()
        rest = other.read() if other is not None else ""
        code = process.wait(timeout=300)
        reader.join()
    lines.append((time.monotonic() - started, f"<end> {rest[-500:]}"))
    return code, lines


def _arrival(lines: list[tuple[float, str]], prefix: str) -> float:
    return next(t for t, line in lines if line.startswith(prefix))


def _assert_tiny_reported_early(lines: list[tuple[float, str]]) -> None:
    tiny, slow, end = _arrival(lines, "tiny:build"), _arrival(lines, "slow:build"), lines[-1][0]
    assert tiny < slow <= end, lines
    assert slow - tiny >= SLOW_S * 0.9, f"tiny's line waited for slow: {lines}"


def test_run_prints_each_scenario_when_it_finishes(workdir: Path) -> None:
    code, lines = _stream(
        ["run", "tiny:build", "slow:build", "--out", "runs/a"], workdir, stream="stdout"
    )
    assert code == 0, lines
    _assert_tiny_reported_early(lines)
    assert lines[-2][1] == "wrote runs/a"


def test_determinism_prints_each_scenario_when_it_finishes(workdir: Path) -> None:
    code, lines = _stream(
        ["determinism", "tiny:build", "slow:build", "--no-fresh-process"], workdir, stream="stdout"
    )
    assert code == 0, lines
    _assert_tiny_reported_early(lines)
    assert "deterministic (2 replays bitwise equal)" in lines[0][1]


def test_check_prints_each_scenario_when_its_replay_finishes(workdir: Path) -> None:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "reprocheck",
            "-q",
            "run",
            "tiny:build",
            "slow:build",
            "--out",
            "base",
            "--trace-steps",
            "0",
        ],
        cwd=workdir,
        env={**os.environ, "SLOW_SECONDS": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    code, lines = _stream(["check", "--baseline", "base"], workdir, stream="stderr")
    assert code == 0, lines
    _assert_tiny_reported_early(lines)
