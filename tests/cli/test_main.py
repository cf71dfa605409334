"""The command-line frame: version, global flags, usage errors and the error boundary."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from reprocheck import __version__
from reprocheck.cli import cli


def test_version_prints_the_package_version() -> None:
    """`reprocheck --version` names the installed version and exits 0."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    """An unknown subcommand exits 2 with an Error line and a Hint on stderr."""
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "Error: no command 'frobnicate'" in result.stderr
    assert "Hint: Run `reprocheck --help`" in result.stderr
    assert result.stdout == ""


def test_misspelt_command_suggests_the_closest_one() -> None:
    """`reprocheck compar` suggests `compare`: Error, Hint, exit 2."""
    result = CliRunner().invoke(cli, ["compar", "a", "b"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == ["Error: no command 'compar'", "Hint: Did you mean `reprocheck compare`?"]


def test_quiet_after_the_command_works() -> None:
    """-q after the subcommand means what it means before it."""
    result = CliRunner().invoke(cli, ["fingerprint", "-q", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("{")


def test_verbose_after_the_command_lists_every_package() -> None:
    """-v after the subcommand turns on the verbose form, as before it."""
    quiet = CliRunner().invoke(cli, ["fingerprint"])
    verbose = CliRunner().invoke(cli, ["fingerprint", "-v"])
    assert verbose.exit_code == 0, verbose.stderr
    assert len(verbose.stdout.splitlines()) > len(quiet.stdout.splitlines())


def test_verbose_and_quiet_across_the_command_are_refused() -> None:
    """-v before and -q after the subcommand still contradict each other."""
    result = CliRunner().invoke(cli, ["-v", "fingerprint", "-q"])
    assert result.exit_code == 2
    assert "--verbose and --quiet" in result.stderr


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



def test_missing_torch_is_an_environment_failure(tmp_path: Path) -> None:
    """A command that needs torch, run where torch cannot be imported, exits 3 with a hint."""
    blocker = tmp_path / "torch"
    blocker.mkdir()
    # A package whose import fails like a missing torch would.
    (blocker / "__init__.py").write_text("raise ModuleNotFoundError(name='torch')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "reprocheck", "run", "mlp", "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, check=False,
                         env=env)
    assert out.returncode == 3, out.stderr
    assert out.stderr.startswith("Error: this environment lacks torch")
    assert "Hint:" in out.stderr
    assert "Traceback" not in out.stderr


def test_output_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Files written with -o are readable by others like any file the user creates."""
    target = tmp_path / "fp.json"
    result = CliRunner().invoke(cli, ["fingerprint", "--format", "json", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_cli_reference_is_current() -> None:
    """docs/cli.md matches the commands' --help (regenerate: python scripts/gen_cli_docs.py)."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "scripts" / "gen_cli_docs.py"), "--check"],
                         capture_output=True, text=True, check=False, cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr
