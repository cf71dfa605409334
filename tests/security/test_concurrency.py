"""Concurrent writers: two runs into one --out, and parallel nox-style replays.

* Two ``reprocheck run`` into the same ``--out`` at once (different seeds, so their
  artifacts differ): one exits 0, the other exits 2 with one ``Error:`` line and no
  traceback; the run left is wholly the winner's (every record, tensor and the manifest's
  command agree on its seed, and the final tensors match the last step's digests); no
  partial directory remains.
* Two replays as the nox ``replay`` sessions do them (status ``building``, the run into
  ``runs/<env>``, status ``ran``), at the same time into one runs directory: both runs and
  both status files are whole, and the matrix compares them (exit 0: same seed).

``REPROCHECK_STRESS_REPEAT`` sets the repetitions (default 3).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.matrix_files import read_status
from reprocheck.artifacts.runs import load_run
from reprocheck.integrations.matrix_main import main as matrix_main
from reprocheck.model.digest import tensor_digest

pytestmark = pytest.mark.integration

REPEAT = int(os.environ.get("REPROCHECK_STRESS_REPEAT", "3"))


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _check_whole(run_dir: Path) -> int:
    """Every part of the run belongs to one replay; returns its seed."""
    run = load_run(run_dir)
    seeds = {record.config.seed for record in run.records.values()}
    assert len(seeds) == 1, seeds
    seed = seeds.pop()
    command = run.manifest["command"]
    if "--seed" in command:  # written by `reprocheck run`
        assert command[command.index("--seed") + 1] == str(seed)
    for name, record in run.records.items():
        last = record.steps[-1].param_digests
        with run.open_tensors(name) as reader:
            for param, digest in last.items():
                assert tensor_digest(reader.get(f"param/{param}")) == digest, (name, param)
    return seed


@pytest.mark.parametrize("rep", range(REPEAT))
def test_two_runs_into_one_out(tmp_path: Path, rep: int) -> None:
    """One run wins whole; the other exits 2 cleanly; nothing is mixed or left over."""
    out = tmp_path / "run"
    procs = [
        _start(
            [
                sys.executable,
                "-m",
                "reprocheck",
                "run",
                "mlp",
                "rnn",
                "--steps",
                "3",
                "--seed",
                str(seed),
                "--out",
                str(out),
            ],
            tmp_path,
        )
        for seed in (1, 2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    for code, stdout, stderr in results:
        if code == 2:
            # Scenario lines appear as scenarios finish; the loser never says it wrote a run.
            assert all(line.startswith(("mlp:", "rnn:")) for line in stdout.splitlines())
            assert "wrote" not in stdout
            lines = stderr.splitlines()
            assert [line.split(":")[0] for line in lines] == ["Error", "Hint"], stderr
            assert str(out) in lines[0]
    winner = next(i for i, (code, _, _) in enumerate(results) if code == 0)
    assert _check_whole(out) == winner + 1
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "a partial run was left behind"


REPLAY = """
import sys
from pathlib import Path
from reprocheck.artifacts.matrix_files import write_status
from reprocheck.model.matrix import EnvStatus
from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows.run import run_scenarios

runs, env = Path(sys.argv[1]), sys.argv[2]
write_status(runs, EnvStatus(env, "building", "0" * 64))
write_status(runs, EnvStatus(env, "built", "0" * 64, python=sys.executable))
run_scenarios(["mlp"], runs / env, ReplayOptions(steps=3), force=True)
write_status(runs, EnvStatus(env, "ran", "0" * 64, python=sys.executable))
"""


@pytest.mark.parametrize("rep", range(REPEAT))
def test_parallel_replays_into_one_runs_directory(tmp_path: Path, rep: int) -> None:
    """Two environments replaying at once leave two whole runs and two whole statuses."""
    runs = tmp_path / "runs"
    runs.mkdir()
    envs = ["torch-a", "torch-b"]
    procs = [_start([sys.executable, "-c", REPLAY, str(runs), env], tmp_path) for env in envs]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.communicate()[1]
        proc.communicate()
    for env in envs:
        _check_whole(runs / env)
        status = read_status(runs, env)
        assert status is not None
        assert status.state == "ran"
    assert sorted(p.name for p in runs.iterdir()) == [".status", *envs]
    code = matrix_main([*envs, "--baseline", envs[0], "--runs", str(runs)])
    assert code == 0
