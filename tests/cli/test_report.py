"""`reprocheck report`: exit codes, the written page, usage errors, bad input, no matplotlib."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from compare_support import fingerprint, make_run, pair, write_fingerprint, write_run

from reprocheck.cli import cli


def _drift(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    records["mlp"]["steps"][0]["loss"] = 5.0


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line_error(result: Result) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ")
    assert all(line.startswith(("Error: ", "Hint: ")) for line in lines)
    assert "Traceback" not in result.stderr


def test_identical_runs_exit_0_and_write_the_page(tmp_path: Path) -> None:
    """Identical runs: exit 0, the HTML page written, the verdict and the path on stderr."""
    out = tmp_path / "report.html"
    result = _run("report", *pair(tmp_path / "runs"), "-o", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "cand: identical: 1 scenario(s) bitwise equal" in result.stderr
    assert result.stderr.rstrip().endswith(f"report written to {out}")


def test_drift_in_any_candidate_exits_1(tmp_path: Path) -> None:
    """One identical and one drifting candidate: exit 1, and both are in the page."""
    records, tensors = make_run("mlp")
    base = write_run(tmp_path / "base", records, tensors)
    same = write_run(tmp_path / "same", records, tensors)
    _, moved = pair(tmp_path / "p", _drift)
    out = tmp_path / "report.html"
    result = _run("report", base, same, moved, "-o", out)
    assert result.exit_code == 1
    page = out.read_text(encoding="utf-8")
    assert 'id="heatmap"' in page
    assert "same: identical" in result.stderr
    assert "cand: drift" in result.stderr


def test_missing_output_is_a_usage_error(tmp_path: Path) -> None:
    """-o is required: exit 2 with click's usage message, nothing written."""
    result = _run("report", *pair(tmp_path))
    assert result.exit_code == 2
    assert "Missing option '-o'" in result.stderr


def test_missing_candidate_is_a_usage_error(tmp_path: Path) -> None:
    """At least one CANDIDATE: exit 2."""
    base, _ = pair(tmp_path)
    result = _run("report", base, "-o", tmp_path / "r.html")
    assert result.exit_code == 2
    assert "Missing argument 'CANDIDATE...'" in result.stderr


def test_missing_baseline_is_one_error_line_and_no_file(tmp_path: Path) -> None:
    """A baseline that does not exist: Error:/Hint:, exit 2, no report written."""
    _, cand = pair(tmp_path)
    out = tmp_path / "report.html"
    result = _run("report", tmp_path / "nope", cand, "-o", out)
    _one_line_error(result)
    assert "nope does not exist" in result.stderr
    assert not out.exists()


def test_run_against_fingerprint_is_bad_input(tmp_path: Path) -> None:
    """A run compared with a fingerprint file: exit 2, one error line."""
    base, _ = pair(tmp_path)
    fp = write_fingerprint(tmp_path / "fp.json", fingerprint())
    result = _run("report", base, fp, "-o", tmp_path / "r.html")
    _one_line_error(result)


def test_unwritable_output_is_bad_input(tmp_path: Path) -> None:
    """-o into a directory that does not exist: exit 2, one error line."""
    result = _run("report", *pair(tmp_path), "-o", tmp_path / "no" / "r.html")
    _one_line_error(result)
    assert "does not exist" in result.stderr


def test_invalid_policy_is_bad_input(tmp_path: Path) -> None:
    """A policy file that is not valid TOML: exit 2, one error line."""
    policy = tmp_path / "policy.toml"
    policy.write_text("this is = = not toml\n", encoding="utf-8")
    result = _run("report", *pair(tmp_path), "-o", tmp_path / "r.html", "--policy", policy)
    _one_line_error(result)


def _without_matplotlib(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import matplotlib`` fails as if it were not installed."""
    shim = tmp_path / "shim" / "matplotlib"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n",
        encoding="utf-8",
    )
    path = os.pathsep.join([str(shim.parent), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def test_missing_matplotlib_exits_2_with_the_install_hint(tmp_path: Path) -> None:
    """Without the report extra: exit 2, `needs matplotlib` and the pip hint, no file."""
    base, cand = pair(tmp_path)
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "reprocheck", "report", str(base), str(cand), "-o", str(out)],
        env=_without_matplotlib(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "Error: reprocheck report needs matplotlib, which this environment lacks",
        'Hint: pip install "reprocheck[report]"',
    ]
    assert not out.exists()


def test_help_imports_neither_torch_nor_matplotlib() -> None:
    """`reprocheck report --help` stays light: no torch, no matplotlib."""
    code = (
        "import sys\nfrom reprocheck.cli import main\n"
        "try:\n    main(['report', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Needs matplotlib" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "HEAVY="
