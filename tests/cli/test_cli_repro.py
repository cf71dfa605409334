"""`reprocheck repro`: bad input is exit 2 with an Error: and a Hint:, nothing written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reprocheck.cli import cli


def test_a_missing_run_is_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = CliRunner().invoke(
        cli, ["repro", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]
    )
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert "Hint:" in result.stderr
    assert not out.exists()


def test_out_is_required() -> None:
    result = CliRunner().invoke(cli, ["repro", "a", "b"])
    assert result.exit_code == 2
