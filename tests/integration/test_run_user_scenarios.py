"""A user's scenario written like the DESIGN.md example runs through `reprocheck run`.

Both ways a user plugs one in, in real subprocesses: ``module:function`` importable from
the working directory, and an entry point of an installed package in the group
``reprocheck.scenarios`` (installed with pip into a folder on ``PYTHONPATH``, so that
``importlib.metadata`` finds its real ``entry_points.txt``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.store import load_run

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent.parent / "data"


def _reprocheck(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprocheck", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_module_function_from_working_directory(tmp_path: Path) -> None:
    """`reprocheck run my_scenarios:build` imports the module from the working directory."""
    shutil.copy(DATA / "user_scenario" / "my_scenarios.py", tmp_path)
    done = _reprocheck("run", "my_scenarios:build", "--steps", "3", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = load_run(tmp_path / "run").records["my_scenarios:build"]
    assert record.source == "my_scenarios:build"
    assert len(record.steps) == 3
    assert record.modules[:2] == ("my_scenarios:build", "my_scenarios:build.0")


def test_entry_point_of_an_installed_package(tmp_path: Path) -> None:
    """A scenario declared in the entry-point group of an installed package runs by name."""
    source = tmp_path / "pkg"
    shutil.copytree(DATA / "entrypoint_pkg", source)
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0 and "setuptools" in install.stderr:
        pytest.skip("setuptools is needed to build the test package offline")
    assert install.returncode == 0, install.stderr
    assert list(site.glob("rc_demo_scenarios-*.dist-info/entry_points.txt"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    work = tmp_path / "work"
    work.mkdir()
    done = _reprocheck("run", "rc-demo", "--steps", "2", "--out", "run", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    record = load_run(work / "run").records["rc-demo"]
    assert record.source == "entry-point"
    assert len(record.steps) == 2


def test_unknown_name_lists_installed_entry_points(tmp_path: Path) -> None:
    """Without the package on the path the name is unknown, exit 2, no traceback."""
    done = _reprocheck("run", "rc-demo", "--out", "run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: unknown scenario 'rc-demo'\nHint: Built-in scenarios:")
    assert "Traceback" not in done.stderr
