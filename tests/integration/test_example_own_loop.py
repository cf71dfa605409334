"""examples/own-loop works as its README says: the nox matrix runs the project's train.py.

The example is copied to a temporary directory and its matrix run the way a user would
(``python -m reprocheck.nox``), in real subprocesses: each environment is built from its
lockfile (uv's cache holds torch 2.13.0, a local wheel, and 2.14.1, mirrored on the local
index), ``python train.py`` runs in it and records at ``$REPROCHECK_OUT``, and the runs are
compared. Then train.py is made to fail, or to write no run, in one environment: the
environments are reused, and that environment reads ``run failed`` (exit 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own-loop"
ENVS = ("torch-2.13.0", "torch-2.14.1")


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for name in ("PYTEST_ADDOPTS", "REPROCHECK_OUT", "REPROCHECK_LOCKFILE"):
        env.pop(name, None)
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "own-loop"
    shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns(".nox", "runs"))
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the nox environments hold gigabytes


def _break_train_py(project: Path, env: str, how: str) -> None:
    """Make train.py ``how`` ("fail" or "write nothing") in ``env`` only."""
    script = project / "train.py"
    text = script.read_text(encoding="utf-8")
    action = "raise SystemExit(5)" if how == "fail" else "raise SystemExit(0)"
    guard = (
        f"import os\nif os.environ['REPROCHECK_LOCKFILE'].endswith('{env}.txt'):\n    {action}\n"
    )
    script.write_text(text.replace("\n\nimport argparse\n", f"\n\n{guard}import argparse\n"))


def test_matrix_runs_the_projects_own_training_script(project: Path) -> None:
    """Both environments ran train.py and are compared; then a failing one reads run failed."""
    listed = _run([sys.executable, "-m", "nox", "-l"], project)
    for env in ENVS:
        assert f"replay(env='{env}')" in listed.stdout, listed.stdout + listed.stderr
    done = _run([sys.executable, "-m", "reprocheck.nox"], project)
    # 0 reproducible or 1 drift are both answers; 3 (an environment failed) is not.
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    assert "scenario  torch-2.13.0  torch-2.14.1" in done.stdout
    verdict = done.stdout[done.stdout.index("matrix verdict:") :].splitlines()
    assert verdict[1].split() == ["torch-2.13.0", "baseline"]
    assert verdict[2].split()[:4] == ["torch-2.14.1", "torch-2.13.0", "→", "torch-2.14.1:"]
    assert "`python train.py --steps 5` (REPROCHECK_OUT=runs/torch-2.13.0)" in done.stderr
    matrix = json.loads((project / "runs" / "matrix.json").read_text(encoding="utf-8"))
    assert set(matrix["lines"]) == set(ENVS)
    for env in ENVS:
        run = load_run(project / "runs" / env)
        assert list(run.records) == ["train"]
        assert run.records["train"].source == "recorded"
        assert len(run.records["train"].steps) == 5
        assert run.fingerprint["lockfile"]["path"].endswith(f"lockfiles/{env}.txt")
    assert (
        load_run(project / "runs" / "torch-2.14.1")
        .fingerprint["torch"]["version"]
        .startswith("2.14.1")
    )

    # The command fails in one environment: its session fails, the matrix says run failed.
    _break_train_py(project, "torch-2.14.1", "fail")
    failed = _run([sys.executable, "-m", "reprocheck.nox"], project)
    assert failed.returncode == 3, failed.stdout[-3000:] + failed.stderr[-3000:]
    assert "* replay(env='torch-2.14.1'): failed" in failed.stderr
    last = failed.stdout.rstrip("\n").splitlines()[-1].split()
    assert last[:3] == ["torch-2.14.1", "run", "failed:"], failed.stdout
    assert "reused" in failed.stderr  # the environments were not rebuilt
    assert not (project / "runs" / "torch-2.14.1").exists()  # the old run is gone


def test_a_command_that_writes_no_run_is_a_failed_run(project: Path) -> None:
    """train.py exits 0 without recording in one environment: that is no run either."""
    (project / "lockfiles" / "torch-2.14.1.txt").unlink()  # one environment is enough here
    _break_train_py(project, "torch-2.13.0", "write nothing")
    done = _run([sys.executable, "-m", "reprocheck.nox"], project)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    assert "wrote no run to runs/torch-2.13.0" in done.stderr
    assert "* replay(env='torch-2.13.0'): aborted" in done.stderr
    last = done.stdout.rstrip("\n").splitlines()[-1].split()
    assert last[:3] == ["torch-2.13.0", "run", "failed:"], done.stdout
