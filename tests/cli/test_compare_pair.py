"""`reprocheck compare --pair A=B`: scenario A of the baseline against B of the candidate."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from compare_support import pair

from reprocheck.cli import cli


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_scenario_paired_with_itself_is_identical(tmp_path: Path) -> None:
    base, cand = pair(tmp_path)
    result = _run("compare", base, cand, "--pair", "mlp=mlp")
    assert result.exit_code == 0, result.stderr
    assert (
        "baseline mlp compared with candidate mlp"
        in _run("compare", base, cand, "--pair", "mlp=mlp", "--format", "json").stdout
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mlp", "is not of the form A=B"),
        ("=mlp", "is not of the form A=B"),
        ("nope=mlp", "'nope', which the baseline run does not hold (it holds: mlp)"),
        ("mlp=nope", "'nope', which the candidate run does not hold (it holds: mlp)"),
    ],
)
def test_a_bad_pair_exits_2_with_a_hint(tmp_path: Path, spec: str, message: str) -> None:
    result = _run("compare", *pair(tmp_path), "--pair", spec)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert lines[1].startswith("Hint: ")
    assert "--pair BASELINE_SCENARIO=CANDIDATE_SCENARIO" in lines[1]
    assert "Traceback" not in result.stderr


def test_the_same_baseline_scenario_paired_twice_exits_2(tmp_path: Path) -> None:
    result = _run("compare", *pair(tmp_path), "--pair", "mlp=mlp", "--pair", "mlp=mlp")
    assert result.exit_code == 2
    assert "twice" in result.stderr
