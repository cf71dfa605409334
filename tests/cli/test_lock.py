"""`reprocheck lock`: option grouping, --verify exit codes and output, bad input."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.cli import cli
from reprocheck.cli.lock import group_environments
from reprocheck.errors import InputError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _lockfile(tmp_path: Path, click_version: str) -> Path:
    path = tmp_path / "env.txt"
    path.write_text(
        f"click=={click_version} \\\n    --hash=sha256:0000\n    # via -r env.in\n",
        encoding="utf-8",
    )
    return path


def test_pins_follow_the_env_before_them() -> None:
    """Each --pin belongs to the --env that precedes it, in command-line order."""
    args = ["--env", "a", "--pin", "torch==2.6.0", "--pin=numpy<2", "--env=b", "--pin", "x==1"]
    assert group_environments(args) == [("a", ["torch==2.6.0", "numpy<2"]), ("b", ["x==1"])]


def test_pin_before_any_env_is_refused() -> None:
    """A --pin with no --env before it cannot be placed."""
    with pytest.raises(InputError, match="before any --env"):
        group_environments(["--pin", "torch==2.6.0", "--env", "a"])


def test_pin_before_env_exits_2(runner: CliRunner) -> None:
    """On the command line that is an input error: exit 2, Error and Hint, nothing else."""
    result = runner.invoke(cli, ["lock", "--pin", "torch==2.6.0", "--env", "a"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error: --pin torch==2.6.0 comes before any --env" in result.stderr
    assert "Hint:" in result.stderr


def test_same_env_twice_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """Naming an environment twice is refused rather than silently merged."""
    result = runner.invoke(cli, ["lock", "--env", "a", "--env", "a", "--output-dir", tmp_path])
    assert result.exit_code == 2
    assert "named twice" in result.stderr


def test_lock_without_env_exits_2(runner: CliRunner) -> None:
    """`reprocheck lock` alone says what is missing."""
    result = runner.invoke(cli, ["lock"])
    assert result.exit_code == 2
    assert "no environment to lock" in result.stderr


def test_bad_env_name_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """An environment name that is not a plain file name is refused before any work."""
    result = runner.invoke(cli, ["lock", "--env", "../up", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "not usable as a file name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_output_dir_under_a_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """A missing output directory is created, but not under a file: exit 2, nothing run."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = runner.invoke(
        cli, ["lock", "--env", "a", "--pin", "click", "--output-dir", str(blocker / "lockfiles")]
    )
    assert result.exit_code == 2
    assert "cannot create output directory" in result.stderr
    assert "Hint:" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_verify_matching_environment_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    """The running environment matches a lockfile pinning what is installed."""
    path = _lockfile(tmp_path, version("click"))
    result = runner.invoke(cli, ["lock", "--verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "the environment matches (1 packages)" in result.stdout


def test_verify_different_version_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    """A pinned package at another version: exit 1 and the package listed."""
    path = _lockfile(tmp_path, "0.1")
    result = runner.invoke(cli, ["lock", "--verify", str(path)])
    assert result.exit_code == 1
    assert f"click: locked 0.1, installed {version('click')}" in result.stdout
    assert result.stderr == ""


def test_verify_json_lists_differences(runner: CliRunner, tmp_path: Path) -> None:
    """--format json carries the same differences as data."""
    path = _lockfile(tmp_path, "0.1")
    result = runner.invoke(cli, ["lock", "--verify", str(path), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["matches"] is False
    assert data["different"] == [{"name": "click", "locked": "0.1", "installed": version("click")}]


def test_verify_missing_lockfile_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """A lockfile that does not exist is bad input, named, without a traceback."""
    result = runner.invoke(cli, ["lock", "--verify", str(tmp_path / "gone.txt")])
    assert result.exit_code == 2
    assert "gone.txt" in result.stderr
    assert "Traceback" not in result.output


def test_verify_corrupt_lockfile_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """An unpinned line makes the lockfile corrupt: exit 2 naming file and line."""
    path = tmp_path / "bad.txt"
    path.write_text("click>=8\n", encoding="utf-8")
    result = runner.invoke(cli, ["lock", "--verify", str(path)])
    assert result.exit_code == 2
    assert f"Error: {path}:1:" in result.stderr


def test_verify_with_env_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    """--verify checks an environment; mixing it with --env/--pin is a usage error."""
    path = _lockfile(tmp_path, version("click"))
    result = runner.invoke(cli, ["lock", "--verify", str(path), "--env", "a"])
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr
