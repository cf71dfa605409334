"""The command-line frame: version, global flags, usage errors and the error boundary."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
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
    out = subprocess.run(
        [sys.executable, "-m", "reprocheck", "--help"], capture_output=True, text=True, check=False
    )
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
    out = subprocess.run(
        [sys.executable, "-m", "reprocheck", "run", "mlp", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert out.returncode == 3, out.stderr
    assert out.stderr.startswith("Error: this environment lacks torch")
    assert "Hint:" in out.stderr
    assert "Traceback" not in out.stderr


BUG_HINT = (
    "Hint: This is a bug in reprocheck; please report it with the output of `reprocheck -v ...`."
)
# A crash planted in the core, then the real console-script entry point (python -m reprocheck).
PLANTED_CRASH = """
import sys
import reprocheck.env

def crash(*args, **kwargs):
    raise RuntimeError("planted bug")

reprocheck.env.fingerprint = crash
from reprocheck.cli import main
main(sys.argv[1:])
"""


def _plant_crash(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make the capture that `reprocheck fingerprint` calls raise ``exc``."""
    import reprocheck.env

    def crash(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(reprocheck.env, "fingerprint", crash)


def test_a_crash_exits_4_with_one_line_and_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in reprocheck exits 4 (never 1, which means drift) with Error and a report hint."""
    _plant_crash(monkeypatch, RuntimeError("planted bug"))
    result = CliRunner().invoke(cli, ["fingerprint"])
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "Error: reprocheck failed: RuntimeError: planted bug",
        BUG_HINT,
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("argv", [["-v", "fingerprint"], ["fingerprint", "-v"]])
def test_verbose_shows_the_traceback_of_a_crash(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """With -v (before or after the command) the traceback comes first, then the same lines."""
    _plant_crash(monkeypatch, RuntimeError("planted bug"))
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 4
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "RuntimeError: planted bug" in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "Error: reprocheck failed: RuntimeError: planted bug",
        BUG_HINT,
    ]


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a command exits 130 with `Error: interrupted.`, not click's `Aborted!`."""
    _plant_crash(monkeypatch, KeyboardInterrupt())
    result = CliRunner().invoke(cli, ["fingerprint"])
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted.\n"


def test_a_crash_while_parsing_exits_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing is inside the boundary too: `--help` lists (imports) every command."""
    import reprocheck.cli

    monkeypatch.setitem(reprocheck.cli._COMMANDS, "broken", "reprocheck.cli.no_such_module:x")
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "Error: reprocheck failed: ModuleNotFoundError: "
        "No module named 'reprocheck.cli.no_such_module'",
        BUG_HINT,
    ]


def test_a_crash_in_a_real_process_exits_4() -> None:
    """The console-script path: exit status 4, one Error line, the hint, no traceback."""
    out = subprocess.run(
        [sys.executable, "-c", PLANTED_CRASH, "fingerprint"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 4, out.stderr
    assert out.stderr.splitlines() == [
        "Error: reprocheck failed: RuntimeError: planted bug",
        BUG_HINT,
    ]


def test_a_crash_in_a_real_process_shows_the_traceback_with_verbose() -> None:
    """-v in a real process: the traceback, then the Error line; still exit 4."""
    out = subprocess.run(
        [sys.executable, "-c", PLANTED_CRASH, "-v", "fingerprint"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 4, out.stderr
    assert "Traceback (most recent call last):" in out.stderr
    assert out.stderr.splitlines()[-2] == "Error: reprocheck failed: RuntimeError: planted bug"


@pytest.mark.parametrize(
    ("source", "raised"),
    [
        ("def build(ctx):\n    raise RuntimeError('user bug')\n", "building it raised"),
        ("raise RuntimeError('user bug')\n", "importing module"),
    ],
    ids=["build-raises", "import-raises"],
)
def test_a_broken_user_scenario_is_bad_input_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, raised: str
) -> None:
    """The user's scenario code raising is exit 2 (ScenarioError), never 4 and never 1."""
    module = f"broken_scenario_{raised.split(maxsplit=1)[0]}"
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    result = CliRunner().invoke(cli, ["run", f"{module}:build", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: scenario '{module}:build': {raised}")
    assert "user bug" in result.stderr
    assert "Traceback" not in result.stderr


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
    out = subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert out.returncode == 0, out.stdout + out.stderr
