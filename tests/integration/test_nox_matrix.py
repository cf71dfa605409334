"""The nox matrix for real: uv environments built from lockfiles, replays, the matrix table.

One project in a temporary directory, with a user-style noxfile (``reprocheck.nox.matrix``)
and three lockfiles: the shipped torch 2.13.0 and 2.14.1 ones and a copy pinning a torch
that does not exist. The environments are built once for the module, from an empty uv
cache, then the tests look at what happened and change one thing at a time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprocheck.matrix import read_status
from reprocheck.nox import STAMP_NAME
from reprocheck.pipconfig import uv_install_options

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOXFILE = """\
import reprocheck.nox

reprocheck.nox.matrix(
    lockfiles="lockfiles",
    runs="runs",
    scenarios=["mlp"],
    run_args=["--steps", "2"],
    baseline="torch-2.13.0",
)
"""


class Project:
    """The temporary project and the first run of ``python -m reprocheck.nox`` in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, "UV_CACHE_DIR": str(path / "uv-cache"), "NO_COLOR": "1"}
        started = time.monotonic()
        self.first = self.run([sys.executable, "-m", "reprocheck.nox"])
        self.first_seconds = time.monotonic() - started

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1500,
        )

    def venv(self, env: str) -> Path:
        """The environment's directory, as its replay session recorded it."""
        status = read_status(self.path / "runs", env)
        assert status is not None
        assert status.python is not None
        return Path(status.python).parent.parent

    def reprocheck(self, env: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.venv(env) / "bin" / "reprocheck"), *args])

    def nox(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "nox", *args])

    def install_other_click(self, env: str) -> None:
        """Change one package in the environment (click 8.5.0 is on the local index)."""
        from uv import find_uv_bin

        python = str(self.venv(env) / "bin" / "python")
        argv = [str(find_uv_bin()), "pip", "install", "--python", python, "click==8.5.0"]
        done = self.run([*argv, *uv_install_options()])
        assert done.returncode == 0, done.stderr


def _broken_lockfile(text: str) -> str:
    """The 2.13.0 lockfile with torch pinned to a version no index has."""
    broken, count = re.subn(
        r"torch==2\.13\.0\+cpu \\\n    --hash=sha256:[0-9a-f]+",
        "torch==9.9.9 \\\\\n    --hash=sha256:" + "0" * 64,
        text,
    )
    assert count == 1
    return broken


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    path = tmp_path_factory.mktemp("matrix")
    (path / "noxfile.py").write_text(NOXFILE, encoding="utf-8")
    lockfiles = path / "lockfiles"
    lockfiles.mkdir()
    for env in ("torch-2.13.0", "torch-2.14.1"):
        shutil.copy(ROOT / "lockfiles" / f"{env}.txt", lockfiles / f"{env}.txt")
    base = (ROOT / "lockfiles" / "torch-2.13.0.txt").read_text(encoding="utf-8")
    (lockfiles / "torch-9.9.9.txt").write_text(_broken_lockfile(base), encoding="utf-8")
    yield Project(path)
    # The environments and the cache hold gigabytes: never leave them to pytest's retention.
    shutil.rmtree(path, ignore_errors=True)


def test_unbuildable_environment_makes_the_matrix_exit_3(project: Project) -> None:
    """A lockfile pinning a torch that does not exist: exit 3 naming environment and pin."""
    assert project.first.returncode == 3, project.first.stdout + project.first.stderr
    output = project.first.stdout + project.first.stderr
    assert "cannot build environment 'torch-9.9.9'" in output
    assert "torch==9.9.9" in output
    assert project.first.stdout.splitlines()[-1].startswith("matrix verdict: environment failure")


def test_other_environments_are_still_replayed_and_compared(project: Project) -> None:
    """The buildable environments still run and the matrix reports each of them."""
    out = project.first.stdout
    assert "torch-2.13.0 → torch-2.14.1: identical" in out, out
    assert re.search(r"^torch-9\.9\.9\s+not built: .*torch==9\.9\.9", out, re.MULTILINE), out
    assert (project.path / "runs" / "torch-2.14.1" / "run.json").is_file()
    assert (project.path / "runs" / "matrix.md").is_file()


def test_environment_built_from_lockfile_verifies(project: Project) -> None:
    """`reprocheck lock --verify` exits 0 inside an environment built from that lockfile."""
    done = project.reprocheck("torch-2.14.1", "lock", "--verify", "lockfiles/torch-2.14.1.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the environment matches" in done.stdout


def test_verify_fails_after_one_package_changes(project: Project) -> None:
    """After click is changed inside the environment, --verify exits 1 naming click."""
    project.install_other_click("torch-2.13.0")
    done = project.reprocheck("torch-2.13.0", "lock", "--verify", "lockfiles/torch-2.13.0.txt")
    assert done.returncode == 1
    assert "click: locked 8.5.1, installed 8.5.0" in done.stdout


def test_unchanged_lockfile_reuses_the_environment(project: Project) -> None:
    """A second replay with the same lockfile reuses the environment instead of rebuilding."""
    done = project.nox("-s", "replay(env='torch-2.14.1')")
    assert done.returncode == 0, done.stderr
    assert "environment torch-2.14.1 is up to date" in done.stderr
    assert "rebuilding" not in done.stderr


def test_hand_edited_lockfile_rebuilds_the_environment(project: Project) -> None:
    """Editing a lockfile by hand wipes and rebuilds its environment on the next run."""
    project.install_other_click("torch-2.13.0")
    lockfile = project.path / "lockfiles" / "torch-2.13.0.txt"
    lockfile.write_text(
        lockfile.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8"
    )
    done = project.nox("-s", "replay(env='torch-2.13.0')")
    assert done.returncode == 0, done.stderr
    assert "rebuilding environment torch-2.13.0 from scratch" in done.stderr
    stamp = (project.venv("torch-2.13.0") / STAMP_NAME).read_text(encoding="utf-8")
    assert stamp.split()[0] == hashlib.sha256(lockfile.read_bytes()).hexdigest()
    verify = project.reprocheck("torch-2.13.0", "lock", "--verify", str(lockfile))
    assert verify.returncode == 0, verify.stdout
