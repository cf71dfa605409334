"""`reprocheck calibrate`: bad input is exit 2 with an Error: and a Hint:, nothing written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reprocheck.cli import cli


def test_an_unknown_scenario_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["calibrate", "nosuch", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert "Hint:" in result.stderr
    assert not (tmp_path / "c").exists()


def test_an_out_that_is_a_file_is_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["calibrate", "mlp", "--out", str(target)])
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert target.read_text(encoding="utf-8") == "x"


def test_the_help_says_what_it_stores() -> None:
    result = CliRunner().invoke(cli, ["calibrate", "--help"])
    assert result.exit_code == 0
    assert "envelope" in result.stdout
