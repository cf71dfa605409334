"""`reprocheck run` distributed options: refused combinations fail at once, before any rank."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.cli import cli


def _run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", "mlp", "--out", str(tmp_path / "run"), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--world-size", "2", "--backend", "nccl"), "--backend nccl needs --device cuda"),
        (("--bucket-cap-mb", "10"), "--bucket-cap-mb needs a distributed replay"),
        (("--backend", "gloo"), "--backend needs a distributed replay"),
    ],
)
def test_inconsistent_distributed_options_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Each refused combination: exit 2, Error: and Hint: on stderr, nothing written."""
    code, out, err = _run(tmp_path, *args)
    assert code == 2
    assert out == ""
    assert f"Error: {message}" in err
    assert "Hint: " in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [("--world-size", "0"), ("--bucket-cap-mb", "0")])
def test_out_of_range_numbers_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    """A world size below 1 or a bucket size of 0 is refused by the option parser."""
    code, _, err = _run(tmp_path, *args)
    assert code == 2
    assert "Invalid value" in err


def test_world_size_other_than_the_launchers_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under torchrun with WORLD_SIZE=3, --world-size 2 is an input error."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    code, _, err = _run(tmp_path, "--world-size", "2")
    assert code == 2
    assert "the launcher started 3 processes" in err
    assert "Hint: Pass --world-size 3" in err


def test_existing_out_is_refused_before_ranks_start(tmp_path: Path) -> None:
    """The built-in launcher checks --out first, as a one-process run does."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    code, _, err = _run(tmp_path, "--world-size", "2")
    assert code == 2
    assert "already exists and is not empty" in err
