"""``reprocheck repro`` for real: runs with 2 and 1 threads, a script that tells them apart.

The baseline ran with 2 threads, the candidate with 1 (the shared real runs). Whether the
thread count moves a scenario here is measured first, bit for bit; repro then writes the
first divergent operator's reproduction, and the script, run in fresh processes, must
reproduce the baseline's output with 2 threads and give the ULP distance with 1.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from real_runs import RealRuns

from reprocheck.artifacts.runs import load_run
from reprocheck.cli import cli

pytestmark = pytest.mark.integration


@dataclasses.dataclass(frozen=True)
class Written:
    baseline: Path
    candidate: Path
    directory: Path
    moved: bool
    result: object


@pytest.fixture(scope="module")
def written(real_runs: RealRuns, tmp_path_factory: pytest.TempPathFactory) -> Written:
    two, one = real_runs.get(threads=2), real_runs.get(threads=1)
    moved = any(not RealRuns.same_bits(two, one, n) for n in RealRuns.scenarios)
    out = tmp_path_factory.mktemp("repro") / "repro"
    result = CliRunner().invoke(cli, ["repro", str(two), str(one), "-o", str(out)])
    return Written(two, one, out, moved, result)


def _script(directory: Path, threads: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("ATEN_CPU_CAPABILITY", None)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-I", str(directory / "repro.py")],
        cwd=directory.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_repro_writes_the_script_and_its_data(written: Written) -> None:
    if not written.moved:
        pytest.fail("1 and 2 threads give the same bits here: see the exit-2 test instead")
    assert written.result.exit_code == 0, written.result.output  # type: ignore[attr-defined]
    names = {p.name for p in written.directory.iterdir()}
    assert {"repro.py", "repro.json", "inputs.safetensors", "expected.safetensors"} <= names
    meta = json.loads((written.directory / "repro.json").read_text(encoding="utf-8"))
    assert meta["reproduced"] is True
    assert meta["op"].startswith("aten.")
    assert meta["digest"] == meta["captured_digest"]


def test_the_script_reproduces_with_the_baseline_thread_count(written: Written) -> None:
    done = _script(written.directory, 2)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduces the baseline's output" in done.stdout


def test_the_script_gives_the_ulp_distance_with_the_other(written: Written) -> None:
    done = _script(written.directory, 1)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "does not reproduce the baseline's output: max ULP distance" in done.stdout
    ulp = int(done.stdout.split("max ULP distance ")[1].split(",")[0])
    assert ulp > 0


def test_the_script_imports_only_torch_safetensors_and_the_standard_library(
    written: Written,
) -> None:
    tree = ast.parse((written.directory / "repro.py").read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"torch", "safetensors"}


def test_runs_that_do_not_diverge_are_exit_2(written: Written, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["repro", str(written.baseline), str(written.baseline), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "Error: the runs do not diverge" in result.stderr
    assert "Hint:" in result.stderr
    assert not (tmp_path / "r").exists()


ROOT = Path(__file__).resolve().parents[2]
OLD_TORCH_ENV = "torch-2.6.0"


@pytest.fixture(scope="module")
def torch26_python() -> Path:
    """The interpreter of the matrix's torch 2.6.0 environment, built by its nox session.

    The session builds ``.nox/replay-env-torch-2-6-0`` from ``lockfiles/torch-2.6.0.txt``
    (reused while the lockfile is unchanged) and replays the scenarios into
    ``runs/torch-2.6.0``, as ``nox -s "replay(env='torch-2.6.0')"`` always does.
    """
    done = subprocess.run(
        ["nox", "-s", f"replay(env='{OLD_TORCH_ENV}')"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    python = ROOT / ".nox" / f"replay-env-{OLD_TORCH_ENV.replace('.', '-')}" / "bin" / "python"
    assert python.is_file()
    return python


@pytest.mark.parametrize("threads", [2, 1])
def test_the_same_script_runs_in_the_torch_2_6_environment(
    written: Written, torch26_python: Path, threads: int
) -> None:
    """Exit 0 and "reproduces", or exit 1 and the ULP distance: never a failure to run."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(torch26_python), "-I", str(written.directory / "repro.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"\ntorch 2.6.0, {threads} threads: {done.stdout.strip()}")
    assert "torch 2.6.0" in done.stdout
    if done.returncode == 0:
        assert "reproduces the baseline's output" in done.stdout
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "max ULP distance" in done.stdout


def test_an_unknown_scenario_is_exit_2(written: Written, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "repro",
            str(written.baseline),
            str(written.candidate),
            "--scenario",
            "nosuch",
            "-o",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2
    assert "Error: the baseline has no scenario 'nosuch'" in result.stderr
    assert "Hint:" in result.stderr


def test_across_torch_versions_the_baseline_environment_captures_its_output(
    torch26_python: Path, tmp_path: Path
) -> None:
    """torch 2.6.0 baseline (the matrix's run), torch 2.13.0 candidate, --python for 2.6.0.

    The replay runs in the baseline's interpreter, so it gives the baseline's output and
    the script, run here in 2.13.0, can say by how many ULP 2.13.0 differs (or that it
    does not). Where cnn does not part between the versions, repro says so (exit 2).
    """
    baseline = ROOT / "runs" / OLD_TORCH_ENV
    steps = str(load_run(baseline).records["cnn"].config.steps)
    candidate = tmp_path / "new"
    argv = [sys.executable, "-m", "reprocheck", "run", "cnn", "--steps", steps]
    made = subprocess.run(
        [*argv, "--out", str(candidate)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    out = tmp_path / "repro"
    python = ["--python", str(torch26_python)]
    result = CliRunner().invoke(
        cli, ["repro", str(baseline), str(candidate), "--scenario", "cnn", "-o", str(out), *python]
    )
    if result.exit_code == 2:
        assert "diverge" in result.stderr
        return
    assert result.exit_code == 0, result.output
    assert "the replay here gave the baseline's output" in result.stdout
    old = _run_with(torch26_python, out)
    assert old.returncode == 0, old.stdout + old.stderr
    new = _run_with(Path(sys.executable), out)
    print(f"\ncnn, torch 2.13.0 against the 2.6.0 baseline: {new.stdout.strip()}")
    assert new.returncode in (0, 1), new.stderr
    assert ("max ULP distance" in new.stdout) == (new.returncode == 1)


def _run_with(python: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-I", str(directory / "repro.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
