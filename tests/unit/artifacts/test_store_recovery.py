"""RunWriter cleans up after a killed writer without help, and restores what --force moved.

A writer killed before its rename leaves ``.<out>.partial-<pid>-<random>``; one killed
between the two renames of a ``--force`` commit leaves the previous run aside as
``.<out>.old-<pid>-<random>`` and no ``<out>``. The next writer for the same ``<out>``
removes the first and puts the second back, but only once the writer's pid is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from compare_support import fingerprint, make_run, write_run

from reprocheck.artifacts.run_writer import RunWriter
from reprocheck.artifacts.runs import load_run


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_writer_restores_a_run_moved_aside_by_a_killed_force(tmp_path: Path) -> None:
    """No <out>, a dead writer's .old dir: the next writer puts the old run back first."""
    old = write_run(tmp_path / "staging", *make_run("old"))
    aside = tmp_path / f".run.old-{_dead_pid()}-abcd1234"
    old.rename(aside)
    writer = RunWriter(tmp_path / "run", fingerprint=fingerprint(), force=True)
    writer.abort()
    assert load_run(tmp_path / "run").scenario_names == ["old"]
    assert not aside.exists()


def test_next_writer_removes_dead_partials_and_stale_old_runs(tmp_path: Path) -> None:
    """A dead writer's partial run goes; a dead writer's .old beside a whole <out> goes."""
    write_run(tmp_path / "run", *make_run("mlp"))
    dead = _dead_pid()
    partial = tmp_path / f".run.partial-{dead}-abcd1234"
    partial.mkdir()
    stale = tmp_path / f".run.old-{dead}-abcd1234"
    shutil.copytree(tmp_path / "run", stale)
    RunWriter(tmp_path / "run", fingerprint=fingerprint(), force=True).abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_live_writers_directories_are_left_alone(tmp_path: Path) -> None:
    """Directories of a writer still running (this process) are never touched."""
    mine = tmp_path / f".run.old-{os.getpid()}-abcd1234"
    mine.mkdir()
    RunWriter(tmp_path / "run", fingerprint=fingerprint()).abort()
    assert mine.exists()
    assert not (tmp_path / "run").exists()
