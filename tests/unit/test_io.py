"""Atomic writes leave nothing behind, even when the writer was killed (SIGKILL runs no cleanup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reprocheck._io import atomic_write_text, sweep_temporaries, temporary_prefix


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def test_temporary_names_the_writing_process(tmp_path: Path) -> None:
    assert temporary_prefix(tmp_path / "cli.in") == f".cli.in.pid{os.getpid()}."


def test_sweep_removes_a_dead_writers_temporary_and_keeps_a_live_ones(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "cli.in", "click\n")
    dead = tmp_path / f".cli.in.pid{_dead_pid()}.abc123.tmp"
    live = tmp_path / f".cli.in.pid{os.getpid()}.def456.tmp"
    other = tmp_path / f".cli.txt.pid{_dead_pid()}.abc123.tmp"
    for path in (dead, live, other):
        path.write_text("half", encoding="utf-8")

    sweep_temporaries(tmp_path, "cli.in")

    assert not dead.exists()
    assert live.exists()  # its writer (this process) is still running
    assert other.exists()  # another file's temporary is not this sweep's
    assert (tmp_path / "cli.in").read_text(encoding="utf-8") == "click\n"


def test_a_rewrite_clears_what_a_killed_write_left(tmp_path: Path) -> None:
    left = tmp_path / f".result.json.pid{_dead_pid()}.x1y2z3.tmp"
    left.write_text("{", encoding="utf-8")

    atomic_write_text(tmp_path / "result.json", "{}\n")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
