"""A user's scenario written like the docs/scenarios.md example runs through `reprocheck run`.

Both ways a user plugs one in, in real subprocesses: ``module:function`` importable from
the working directory, and an entry point of an installed package in the group
``reprocheck.scenarios``. The package (``tests/data/entrypoint_pkg``) is not installed
with an installer (tests never run one): its module and a ``*.dist-info`` directory with
``METADATA`` and ``entry_points.txt``, written from its ``pyproject.toml``, are put in a
folder on ``PYTHONPATH``, which is exactly what ``importlib.metadata`` reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run

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


def _distribution(source: Path, site: Path) -> Path:
    """Lay out the project at ``source`` in ``site`` as an installed distribution.

    The package's modules, and ``<name>-<version>.dist-info`` with ``METADATA``,
    ``entry_points.txt`` and ``RECORD``, taken from ``pyproject.toml``: the layout an
    installer leaves, so ``importlib.metadata`` finds the entry points the real way.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    for package in (source / "src").iterdir():
        if (package / "__init__.py").is_file():
            shutil.copytree(package, site / package.name)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    groups = project.get("entry-points", {})
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items()) + "\n"
        for group, points in groups.items()
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return info


def test_entry_point_of_an_installed_package(tmp_path: Path) -> None:
    """A scenario declared in the entry-point group of an installed package runs by name."""
    site = tmp_path / "site"
    info = _distribution(DATA / "entrypoint_pkg", site)
    assert (info / "entry_points.txt").read_text(encoding="utf-8") == (
        "[reprocheck.scenarios]\nrc-demo = rc_demo_scenarios:build\n\n"
    )
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
