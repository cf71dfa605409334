"""SIGKILL at random moments of `reprocheck run` and `reprocheck lock` (pip-compile included).

After each kill: nothing under the final name reads as complete unless it *is* complete
(a run loads with every tensor readable, a lockfile parses whole), a run replaced with
--force is the old run or the new one (never a mix, never lost), a lockfile is the old
one or absent (never truncated); and the next command succeeds without manual cleanup,
leaving no temporary directories or files behind.

Kill moments are drawn from a seeded random generator across the command's whole life
(interpreter start, torch import, fingerprint, replay, writing, renaming; pip-compile's
resolution and writing). ``REPROCHECK_STRESS_REPEAT`` sets the repetitions (default 3).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from compare_support import make_run, write_run

from reprocheck.artifacts.runs import load_run
from reprocheck.errors import ArtifactError
from reprocheck.pinned.lockfile import read_lockfile

pytestmark = pytest.mark.integration

REPEAT = int(os.environ.get("REPROCHECK_STRESS_REPEAT", "3"))
RUN_SECONDS = 3.6  # a little longer than `run mlp` takes here: some kills come after it ends
LOCK_SECONDS = 2.0


def _kill_after(argv: list[str], cwd: Path, delay: float) -> int:
    """Start ``reprocheck ARGV``, SIGKILL its whole process group after ``delay`` seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprocheck", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # pip-compile (a child) dies with it
    )
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def _reprocheck(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprocheck", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _complete(run_dir: Path) -> list[str]:
    """Load a run and read every tensor of it; its scenario names."""
    run = load_run(run_dir)
    for name in run.records:
        with run.open_tensors(name) as reader:
            keys = reader.keys()
            for key in keys:
                reader.get(key)
    return run.scenario_names


@pytest.mark.parametrize("rep", range(REPEAT))
def test_sigkill_during_run(tmp_path: Path, rep: int) -> None:
    """A killed run leaves no half run under --out; a killed --force run keeps the old one."""
    rng = random.Random(f"kill-run-{rep}")
    delay = rng.uniform(0.3, RUN_SECONDS)
    force = rep % 2 == 1
    out = tmp_path / "run"
    if force:  # an existing run (scenario "old") for the forced run to replace
        write_run(out, *make_run("old"))
    argv = ["run", "mlp", "--steps", "20", "--out", str(out)] + (["--force"] if force else [])
    code = _kill_after(argv, tmp_path, delay)

    if out.exists() or force:
        # Either the old run, or the whole new one: never a mix, never half written.
        try:
            names = _complete(out)
        except ArtifactError:
            # Only possible for --force killed between its two renames: the old run
            # waits beside, and the next run puts it back.
            assert force, f"half-written run after kill at {delay:.2f}s"
            assert not out.exists(), f"half-written run after kill at {delay:.2f}s"
            names = None
        assert names in (["old"], ["mlp"], None)
        if names == ["mlp"]:
            assert code in (0, -signal.SIGKILL)
    assert not out.exists() or load_run(out).scenario_names in (["old"], ["mlp"])

    again = _reprocheck(["run", "mlp", "--steps", "1", "--out", str(out), "--force"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert _complete(out) == ["mlp"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run"]
    assert leftovers == [], f"left behind after kill at {delay:.2f}s: {leftovers}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "req.in").write_text("click\n", encoding="utf-8")
    (tmp_path / "lockfiles").mkdir()
    return tmp_path


OLD_LOCKFILE = "# an older lockfile\nclick==8.1.6 \\\n    --hash=sha256:" + "0" * 64 + "\n"


@pytest.mark.parametrize("rep", range(REPEAT))
def test_sigkill_during_lock(project: Path, rep: int) -> None:
    """A killed lock (pip-compile killed with it) leaves the old lockfile or none, whole."""
    rng = random.Random(f"kill-lock-{rep}")
    delay = rng.uniform(0.05, LOCK_SECONDS)
    lockfile = project / "lockfiles" / "cli.txt"
    had_old = rep % 2 == 1
    if had_old:
        lockfile.write_text(OLD_LOCKFILE, encoding="utf-8")
    pin = "click==8.1.7"  # on the test index (what the lock integration tests pin)
    argv = ["lock", "--env", "cli", "--pin", pin, "--requirements", "req.in"]
    _kill_after(argv, project, delay)

    if lockfile.exists():
        text = lockfile.read_text(encoding="utf-8")
        if text != OLD_LOCKFILE:  # it finished before the kill: then it is whole
            assert [p.name for p in read_lockfile(lockfile).packages] == ["click"]
            assert f"{pin} \\\n    --hash=sha256:" in text
    else:
        assert not had_old, f"the old lockfile vanished after a kill at {delay:.2f}s"

    again = _reprocheck([*argv, "--upgrade"], project)
    assert again.returncode == 0, again.stderr
    assert read_lockfile(lockfile).get("click") is not None
    assert f"{pin} \\\n" in lockfile.read_text(encoding="utf-8")
    names = sorted(p.name for p in (project / "lockfiles").iterdir())
    assert names == ["cli.in", "cli.txt"], f"left behind after kill at {delay:.2f}s: {names}"
