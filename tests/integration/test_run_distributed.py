"""Distributed replay for real: ranks in DistributedDataParallel over gloo on the CPU.

Process-group start-up costs seconds per process, so each run below is made once per
module and shared by the tests that read it. Runs are two steps of ``mlp``, ``cnn`` and
``rankskew`` (a test scenario whose ranks disagree on purpose), on two ranks.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.artifacts.runs import Run, load_run
from reprocheck.cli import cli
from reprocheck.comparison import compare

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
SCENARIOS = ("mlp", "cnn", "rankskew:build")
AGREEING = ("mlp", "cnn")
_LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _run(out: Path, *args: str, torchrun: bool = False) -> subprocess.CompletedProcess[str]:
    """``reprocheck run ... --out OUT`` from the test scenarios' folder (module:function)."""
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    prefix = [sys.executable, "-m"]
    if torchrun:
        prefix += ["torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m"]
    return subprocess.run(
        [*prefix, "reprocheck", "run", *args, "--out", str(out)],
        cwd=DATA,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _ok(out: Path, *args: str, torchrun: bool = False) -> tuple[Run, str]:
    done = _run(out, *args, torchrun=torchrun)
    assert done.returncode == 0, done.stderr
    return load_run(out), done.stdout + done.stderr


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run, str]:
    """Two runs on two ranks with the built-in launcher, and the first one's output."""
    root = tmp_path_factory.mktemp("ddp")
    first, output = _ok(root / "first", *SCENARIOS, "--steps", "2", "--world-size", "2")
    second, _ = _ok(root / "second", *SCENARIOS, "--steps", "2", "--world-size", "2")
    return first, second, output


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same scenarios in one process."""
    run, _ = _ok(tmp_path_factory.mktemp("single") / "run", *SCENARIOS, "--steps", "2")
    return run


@pytest.fixture(scope="module")
def bucket_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """Three ranks with DDP's default bucket size, then with one bucket per parameter.

    Two ranks cannot show a bucket change (each element is one sum ``a + b`` whatever
    the buckets); three can, through the order of the ring all-reduce.
    """
    root = tmp_path_factory.mktemp("bucket")
    args = ("trio:build", "--steps", "2", "--world-size", "3")
    default, _ = _ok(root / "default", *args)
    small, _ = _ok(root / "small", *args, "--bucket-cap-mb", "0.001")
    return default, small


def test_repeated_ddp_runs_are_identical(ddp_runs: tuple[Run, Run, str]) -> None:
    """Two two-rank runs write the same tensor bytes, and compare says identical."""
    first, second, _ = ddp_runs
    for name in SCENARIOS:
        assert first.tensor_path(name).read_bytes() == second.tensor_path(name).read_bytes()
    result = compare(first.path, second.path)
    assert result.verdict == "identical", result.summary


def test_all_ranks_agree_after_every_step(ddp_runs: tuple[Run, Run, str]) -> None:
    """mlp and cnn record one agreeing flag per step, and their distributed config."""
    first, _, output = ddp_runs
    for name in AGREEING:
        record = first.records[name]
        assert record.ranks_agree == (True, True), name
        config = record.config
        assert (config.world_size, config.backend, config.bucket_cap_mb) == (2, "gloo", 25.0)
    assert "mlp: 2 steps on cpu" in output
    assert "2 ranks agree" in output


def test_a_planted_rank_disagreement_is_recorded_and_reported(
    ddp_runs: tuple[Run, Run, str],
) -> None:
    """Ranks stepping with different learning rates: every step disagrees, with a warning."""
    first, _, output = ddp_runs
    assert first.records["rankskew:build"].ranks_agree == (False, False)
    assert "after step 0 the parameters of rank(s) 1 differ from rank 0's" in output
    assert "2 ranks DISAGREE from step 0" in output
    result = compare(first.path, ddp_runs[1].path)
    notes = next(s.notes for s in result.scenarios if s.name == "rankskew:build")
    assert "in the candidate, the ranks' parameters disagree from step 0" in " ".join(notes)


def test_metrics_are_the_mean_over_ranks(ddp_runs: tuple[Run, Run, str]) -> None:
    """The rankskew metric is the rank itself: recorded as the mean of 0 and 1."""
    first, _, _ = ddp_runs
    assert [s.metrics["rank"] for s in first.records["rankskew:build"].steps] == [0.5, 0.5]


def test_fingerprint_records_the_run_layout(ddp_runs: tuple[Run, Run, str]) -> None:
    """The run's fingerprint says two ranks over gloo, and that gloo is on offer."""
    section = ddp_runs[0].fingerprint["distributed"]
    assert (section["world_size"], section["backend"], section["bucket_cap_mb"]) == (
        2,
        "gloo",
        25.0,
    )
    assert section["backends"]["gloo"] is True


def test_world_size_1_vs_2_is_compared_and_named(
    single_run: Run, ddp_runs: tuple[Run, Run, str]
) -> None:
    """Not an input error: a verdict, a first divergence, and the world size as a suspect."""
    result = compare(single_run.path, ddp_runs[0].path)
    assert result.verdict != "identical"
    mlp = next(s for s in result.scenarios if s.name == "mlp")
    assert mlp.first_divergence is not None
    change = next(c for c in result.environment if c.path == "distributed.world_size")
    assert (change.baseline, change.candidate) == (1, 2)
    assert "world size 1 → 2" in result.summary
    text = CliRunner().invoke(cli, ["compare", str(single_run.path), str(ddp_runs[0].path)])
    assert text.exit_code in (0, 1), text.output
    assert "world size 1 → 2" in text.stdout


def test_bucket_size_change_is_compared_with_a_first_divergence(
    bucket_runs: tuple[Run, Run],
) -> None:
    """A DDP bucket change on three ranks moves rounding; compare names the bucket size."""
    default, small = bucket_runs
    result = compare(default.path, small.path)
    assert result.verdict != "identical"
    (scenario,) = result.scenarios
    assert scenario.first_divergence is not None
    assert [c.path for c in result.environment][:1] == ["distributed.bucket_cap_mb"]
    assert "DDP bucket MB 25.0 → 0.001" in result.summary


def test_torchrun_writes_the_same_artifact_as_the_builtin_launcher(
    tmp_path: Path, ddp_runs: tuple[Run, Run, str]
) -> None:
    """torchrun on one machine: byte-identical tensors, records equal but for timing."""
    via_torchrun, _ = _ok(
        tmp_path / "torchrun", *SCENARIOS, "--steps", "2", "--world-size", "2", torchrun=True
    )
    builtin = ddp_runs[0]
    assert via_torchrun.scenario_names == builtin.scenario_names
    for name in SCENARIOS:
        assert via_torchrun.tensor_path(name).read_bytes() == builtin.tensor_path(name).read_bytes()
        a, b = via_torchrun.records[name], builtin.records[name]
        assert dataclasses.replace(a, duration_s=0.0) == dataclasses.replace(b, duration_s=0.0)


def test_rows_that_do_not_divide_among_ranks_fail_cleanly(tmp_path: Path) -> None:
    """A rank's ScenarioError reaches the user as Error:/Hint:, exit 2, and no run."""
    done = _run(tmp_path / "run", "tiny:build", "--world-size", "3")
    assert done.returncode == 2
    assert "Error: scenario 'tiny:build': the batch at step 0 has 4 rows" in done.stderr
    assert "Hint: Use a --world-size that divides" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.cuda
def test_cuda_ranks_use_nccl(tmp_path: Path) -> None:
    """--device cuda --world-size 2 reduces over NCCL, one GPU per rank."""
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs: NCCL gives each rank its own")
    run, _ = _ok(tmp_path / "run", "mlp", "--steps", "2", "--device", "cuda", "--world-size", "2")
    record = run.records["mlp"]
    assert record.config.backend == "nccl"
    assert record.ranks_agree == (True, True)
    assert run.fingerprint["distributed"]["nccl_version"] is not None
