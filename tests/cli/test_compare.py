"""`reprocheck compare`: exit codes, formats, -o, the CI step summary, policies, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner, Result
from compare_support import fingerprint, make_run, pair, write_fingerprint, write_run

from reprocheck.cli import cli


def _nudge(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    w = tensors["mlp"]["param/fc.weight"]
    w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(float("inf")))


def _drift(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    records["mlp"]["steps"][0]["loss"] = 5.0


def _run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def _one_line_error(result: Result) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ")
    assert all(line.startswith(("Error: ", "Hint: ")) for line in lines)
    assert "Traceback" not in result.stderr


def test_identical_runs_exit_0(tmp_path: Path) -> None:
    """Identical runs: exit 0 and the verdict line on stdout."""
    result = _run("compare", *pair(tmp_path))
    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith("identical: 1 scenario(s) bitwise equal")


def test_within_tolerance_exits_0(tmp_path: Path) -> None:
    """A one-ULP difference under the default policy is within tolerance: exit 0."""
    result = _run("compare", *pair(tmp_path, _nudge))
    assert result.exit_code == 0
    assert "within_tolerance" in result.stdout


def test_drift_exits_1(tmp_path: Path) -> None:
    """A loss off by far more than the tolerance: exit 1, first divergence named."""
    result = _run("compare", *pair(tmp_path, _drift))
    assert result.exit_code == 1
    assert "first divergence at step 0, forward, loss" in result.stdout


def test_json_format_prints_one_object(tmp_path: Path) -> None:
    """--format json prints exactly one JSON object with the verdict."""
    result = _run("compare", *pair(tmp_path, _drift), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["verdict"] == "drift"
    assert data["scenarios"][0]["first_divergence"]["step"] == 0


def test_output_file_gets_the_report(tmp_path: Path) -> None:
    """-o writes the report to the file; stdout stays empty; the summary goes to stderr."""
    out = tmp_path / "report.xml"
    result = _run("compare", *pair(tmp_path, _drift), "--format", "junit", "-o", out)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    assert "drift" in result.stderr


def test_github_step_summary_gets_markdown_appended(tmp_path: Path) -> None:
    """With GITHUB_STEP_SUMMARY set, the markdown report is appended to that file."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    result = _run("compare", *pair(tmp_path, _drift), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")
    assert "### reprocheck compare: ❌ drift" in text


def test_policy_file_decides_tolerance(tmp_path: Path) -> None:
    """--policy with the bitwise preset turns a one-ULP difference into drift."""
    policy = tmp_path / "policy.toml"
    policy.write_text('preset = "bitwise"\n', encoding="utf-8")
    result = _run("compare", *pair(tmp_path, _nudge), "--policy", policy)
    assert result.exit_code == 1


def test_pyproject_policy_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --policy, [tool.reprocheck] in ./pyproject.toml applies."""
    base, cand = pair(tmp_path, _nudge)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.reprocheck]\npreset = "bitwise"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert _run("compare", base, cand).exit_code == 1


def test_bad_policy_exits_2(tmp_path: Path) -> None:
    """A policy file with an unknown preset is bad input."""
    policy = tmp_path / "policy.toml"
    policy.write_text('preset = "sloppy"\n', encoding="utf-8")
    _one_line_error(_run("compare", *pair(tmp_path), "--policy", policy))


def test_fingerprint_files_exit_1_when_they_differ(tmp_path: Path) -> None:
    """Two fingerprint files that differ: exit 1 and the change listed."""
    a = write_fingerprint(tmp_path / "a.json", fingerprint())
    b = write_fingerprint(tmp_path / "b.json", fingerprint(env__OMP_NUM_THREADS="2"))
    result = _run("compare", a, b)
    assert result.exit_code == 1
    assert "env.OMP_NUM_THREADS" in result.stdout


# --- bad input: exit 2, one Error: line, no traceback ------------------------------------


def test_missing_directory_exits_2(tmp_path: Path) -> None:
    """A baseline that does not exist."""
    base, _ = pair(tmp_path)
    result = _run("compare", base, tmp_path / "missing")
    _one_line_error(result)
    assert "missing does not exist" in result.stderr


def test_truncated_safetensors_exits_2(tmp_path: Path) -> None:
    """A tensor file cut short."""
    base, cand = pair(tmp_path)
    (tensors,) = (cand / "scenarios").glob("*/tensors.safetensors")
    data = tensors.read_bytes()
    tensors.write_bytes(data[: len(data) // 2])
    result = _run("compare", base, cand)
    _one_line_error(result)
    assert "tensors.safetensors" in result.stderr


def test_corrupted_json_exits_2(tmp_path: Path) -> None:
    """A scenario record that is not valid JSON."""
    base, cand = pair(tmp_path)
    (record,) = (cand / "scenarios").glob("*/record.json")
    record.write_text('{"name": "mlp", ', encoding="utf-8")
    result = _run("compare", base, cand)
    _one_line_error(result)
    assert "not valid JSON" in result.stderr


def test_unknown_schema_version_exits_2(tmp_path: Path) -> None:
    """A run written by a newer reprocheck."""
    base, cand = pair(tmp_path)
    manifest = cand / "run.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    manifest.write_text(json.dumps(data), encoding="utf-8")
    result = _run("compare", base, cand)
    _one_line_error(result)
    assert "schema_version 99" in result.stderr


def test_different_scenario_sets_exit_2(tmp_path: Path) -> None:
    """Runs of different scenarios: exit 2 naming the scenarios on one side only."""
    base = write_run(tmp_path / "a", *make_run("mlp", "cnn"))
    cand = write_run(tmp_path / "b", *make_run("mlp"))
    result = _run("compare", base, cand)
    _one_line_error(result)
    assert "only the baseline has cnn" in result.stderr


def test_shape_mismatch_in_artifact_exits_2(tmp_path: Path) -> None:
    """A tensor whose shape disagrees with its record's declaration (inconsistent artifact)."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        tensors["mlp"]["param/fc.bias"] = torch.zeros(2, 2)

    result = _run("compare", *pair(tmp_path, edit))
    _one_line_error(result)
    assert "fc.bias" in result.stderr


def test_run_against_fingerprint_exits_2(tmp_path: Path) -> None:
    """A run compared with a fingerprint file."""
    base, _ = pair(tmp_path)
    fp = write_fingerprint(tmp_path / "fp.json", fingerprint())
    _one_line_error(_run("compare", base, fp))
