"""`reprocheck check --baseline DIR`: replay what the baseline ran, here, and compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from compare_support import make_run, write_run

from reprocheck.artifacts.runs import load_run
from reprocheck.cli import cli
from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows.run import run_scenarios


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-step mlp run made in this environment, with a non-default seed."""
    return run_scenarios(
        ["mlp"], tmp_path_factory.mktemp("check") / "base", ReplayOptions(steps=1, seed=3)
    )


def test_check_in_the_same_environment_is_identical(baseline: Path) -> None:
    """Replaying the baseline here gives identical numbers: exit 0."""
    result = CliRunner().invoke(cli, ["check", "--baseline", str(baseline), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "identical"
    assert [s["name"] for s in data["scenarios"]] == ["mlp"]


def test_check_keeps_the_new_run_with_out(baseline: Path, tmp_path: Path) -> None:
    """--out keeps the replay, made with the baseline's seed and steps."""
    out = tmp_path / "new"
    result = CliRunner().invoke(cli, ["check", "--baseline", str(baseline), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    config = load_run(out).records["mlp"].config
    assert (config.seed, config.steps) == (3, 1)


def test_check_with_missing_baseline_exits_2(tmp_path: Path) -> None:
    """A baseline directory that does not exist: exit 2, one Error line, no traceback."""
    result = CliRunner().invoke(cli, ["check", "--baseline", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_check_requires_baseline() -> None:
    """--baseline is required (a usage error)."""
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "--baseline" in result.stderr


def test_check_replays_each_scenario_with_its_own_settings(tmp_path: Path) -> None:
    """A baseline whose scenarios used different seeds is replayed per scenario, in order."""
    from reprocheck.artifacts.run_writer import RunWriter
    from reprocheck.env import fingerprint
    from reprocheck.replay import replay_scenario

    base = tmp_path / "base"
    with RunWriter(base, fingerprint=fingerprint().to_dict()) as writer:
        for name, seed in (("mlp", 5), ("rnn", 0)):
            writer.add(*replay_scenario(name, steps=1, seed=seed))
    out = tmp_path / "new"
    result = CliRunner().invoke(cli, ["check", "--baseline", str(base), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    run = load_run(out)
    assert run.scenario_names == ["mlp", "rnn"]
    assert [r.config.seed for r in run.records.values()] == [5, 0]


def test_check_with_scenario_unknown_here_exits_2(tmp_path: Path) -> None:
    """A baseline scenario that cannot be imported here: exit 2 naming it, nothing written."""
    records, tensors = make_run("no_such_module_c2:build")
    base = write_run(tmp_path / "base", records, tensors)
    out = tmp_path / "new"
    result = CliRunner().invoke(cli, ["check", "--baseline", str(base), "--out", str(out)])
    assert result.exit_code == 2
    assert "no_such_module_c2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
