"""`reprocheck determinism`: verdict per scenario, the first difference, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.cli import cli
from reprocheck.scenarios import BUILTIN_NAMES

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the test scenarios as plain modules."""
    for name in ("nondet.py", "perprocess.py", "tiny.py"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["determinism", *args])
    return result.exit_code, result.stdout, result.stderr


def test_nondeterministic_scenario_exits_1_naming_the_operator(workdir: Path) -> None:
    """Unseeded noise in forward: exit 1, and the random operator that draws it is named."""
    code, out, err = _invoke("nondet:build", "--steps", "2")
    assert code == 1, err
    assert out == (
        "nondet:build  NOT deterministic: first differs at step 0, forward, "
        "aten.randn.generator in nondet:build (replay 2 vs 1)\n"
    )
    assert "Traceback" not in err


def test_deterministic_scenario_exits_0(workdir: Path) -> None:
    """The docs/scenarios.md example is bitwise equal in 2 replays plus a fresh process."""
    code, out, err = _invoke("tiny:build", "--steps", "2")
    assert code == 0, err
    assert out == "tiny:build  deterministic (3 replays bitwise equal)\n"


def test_fresh_process_catches_per_process_state(workdir: Path) -> None:
    """A scenario equal within one process but not across processes fails in the fresh one."""
    code, out, err = _invoke("perprocess:build", "--steps", "1", "--repeats", "1")
    assert code == 1, err
    assert "NOT deterministic: first differs at step 0, forward" in out
    assert "(fresh subprocess vs replay 1)" in out


def test_json_format_reports_each_scenario_and_the_difference(workdir: Path) -> None:
    """--format json: an overall verdict and one object per scenario."""
    code, out, err = _invoke(
        "tiny:build", "nondet:build", "--steps", "1", "--no-fresh-process", "--format", "json"
    )
    assert code == 1, err
    body = json.loads(out)
    assert body["verdict"] == "nondeterministic"
    tiny, nondet = body["scenarios"]
    assert (tiny["name"], tiny["verdict"], tiny["first_difference"]) == (
        "tiny:build",
        "deterministic",
        None,
    )
    assert nondet["first_difference"]["location"] == "aten.randn.generator"
    assert nondet["first_difference"]["step"] == 0


def test_output_file_gets_the_report(workdir: Path) -> None:
    """-o FILE writes the report there and nothing to stdout."""
    code, out, _ = _invoke("tiny:build", "--steps", "1", "--no-fresh-process", "-o", "report.txt")
    assert code == 0
    assert out == ""
    assert (workdir / "report.txt").read_text() == (
        "tiny:build  deterministic (2 replays bitwise equal)\n"
    )


def test_one_replay_without_a_fresh_process_is_bad_input() -> None:
    """--repeats 1 --no-fresh-process compares nothing: exit 2 with a hint."""
    code, _, err = _invoke("mlp", "--repeats", "1", "--no-fresh-process")
    assert code == 2
    assert err.startswith("Error: one replay alone")
    assert "Hint: Use --repeats 2, or --fresh-process." in err


def test_unknown_scenario_is_bad_input(workdir: Path) -> None:
    """An unknown scenario name: exit 2, one Error line and a Hint, no traceback."""
    code, out, err = _invoke("nosuch")
    assert code == 2
    assert out == ""
    assert err.startswith("Error: ")
    assert "nosuch" in err.splitlines()[0]
    assert "Hint: " in err
    assert "Traceback" not in err


def test_zero_repeats_is_a_usage_error() -> None:
    """--repeats 0 is refused by the option parser with exit 2."""
    code, _, err = _invoke("mlp", "--repeats", "0")
    assert code == 2
    assert "--repeats" in err


@pytest.mark.integration
def test_every_builtin_scenario_is_deterministic_here() -> None:
    """Acceptance: determinism exits 0 for every built-in scenario (2 replays + fresh)."""
    code, out, err = _invoke("--steps", "2")
    assert code == 0, out + err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(BUILTIN_NAMES)
    assert all("deterministic (3 replays bitwise equal)" in line for line in lines)
