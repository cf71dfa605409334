"""examples/own-model works as its README says: the CLI, the pytest plugin, the nox matrix.

The example is copied to a temporary directory (so no run, baseline or environment lands
in the checkout) and driven the way a user would, in real subprocesses. The matrix builds
its two environments from the lockfiles with uv's usual cache (torch 2.13.0 is a local
wheel, 2.14.1 is mirrored on the local index), so it costs seconds once the cache holds
them; the environments themselves live in the temporary copy and go with it.
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

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own-model"


def _run(argv: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "own-model"
    shutil.copytree(
        EXAMPLE, path, ignore=shutil.ignore_patterns(".nox", "runs", "reprocheck_baselines")
    )
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the nox environments hold gigabytes


def test_example_scenario_runs_through_the_cli(project: Path) -> None:
    """`reprocheck run mymodel:build` from the example's directory writes a run."""
    done = _run(
        [sys.executable, "-m", "reprocheck", "run", "mymodel:build", "--steps", "2", "--out", "a"],
        project,
    )
    assert done.returncode == 0, done.stderr
    record = load_run(project / "a").records["mymodel:build"]
    assert len(record.steps) == 2
    assert any("encoder.layers.0.self_attn" in m for m in record.modules)


def test_example_tests_record_then_pass_through_the_plugin(project: Path) -> None:
    """The example's pytest suite: the first run records its baselines, the second passes."""
    first = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], project)
    assert first.returncode == 1, first.stdout
    # pytest's short summary repeats failure messages (untruncated without a terminal), so
    # count the recorded baselines in the plugin's own "baselines written" section.
    written = first.stdout.split("reprocheck baselines written", 1)[1].splitlines()[1:]
    recorded = [line for line in written if "reprocheck_baselines" in line and "FAILED" not in line]
    assert [Path(line.strip()).name for line in recorded] == ["mymodel_build", "forward"], (
        first.stdout
    )
    assert (project / "tests" / "reprocheck_baselines").is_dir()
    second = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], project)
    assert second.returncode == 0, second.stdout
    assert "2 passed" in second.stdout


def test_example_noxfile_runs_the_matrix(project: Path) -> None:
    """`python -m reprocheck.nox` in the example: both environments replayed and compared."""
    listed = _run([sys.executable, "-m", "nox", "-l"], project)
    assert "replay(env='torch-2.13.0')" in listed.stdout
    assert "replay(env='torch-2.14.1')" in listed.stdout
    done = _run([sys.executable, "-m", "reprocheck.nox"], project)
    # 0 reproducible or 1 drift are both answers; 3 (an environment failed) is not.
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    matrix = json.loads((project / "runs" / "matrix.json").read_text(encoding="utf-8"))
    assert matrix["baseline"] == "torch-2.13.0"
    assert set(matrix["lines"]) == {"torch-2.13.0", "torch-2.14.1"}
    for env in ("torch-2.13.0", "torch-2.14.1"):
        assert list(load_run(project / "runs" / env).records) == ["mymodel:build"]
