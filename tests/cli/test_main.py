"""The command-line frame: version, global flags, usage errors and the error boundary."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from reprocheck import __version__
from reprocheck.cli import cli


def test_version_prints_the_package_version() -> None:
    """`reprocheck --version` names the installed version and exits 0."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    """An unknown subcommand exits 2 with click's Error line on stderr."""
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert result.stdout == ""


def test_verbose_and_quiet_together_are_refused() -> None:
    """-v and -q contradict each other: exit 2 with an Error line."""
    result = CliRunner().invoke(cli, ["-v", "-q", "fingerprint", "--help"])
    assert result.exit_code == 2
    assert "--verbose and --quiet" in result.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    """`python -m reprocheck --help` works like the console script."""
    out = subprocess.run([sys.executable, "-m", "reprocheck", "--help"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert "Usage:" in out.stdout
    for name in ("fingerprint", "run", "compare", "check", "determinism", "lock"):
        assert name in out.stdout

