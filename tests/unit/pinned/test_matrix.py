"""The matrix: every environment against the baseline, one table, exit codes, its files."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from compare_support import fingerprint, make_run, write_run

from reprocheck.artifacts.matrix_files import (
    read_matrix_result,
    read_status,
    status_path,
    write_matrix,
    write_status,
)
from reprocheck.errors import ArtifactError, ExitCode, InputError
from reprocheck.integrations.matrix_main import main
from reprocheck.model.matrix import EnvStatus, MatrixResult, version_key
from reprocheck.pinned.matrix import build_matrix, read_matrix
from reprocheck.report.matrix import render_markdown, render_table, render_text, render_verdict

BASE = "torch-2.13.0"
SAME = "torch-2.14.1"
OLD = "torch-2.6.0"
BROKEN = "torch-9.9.9"


def _env_run(runs: Path, env: str, torch_version: str, *, drift: bool = False) -> None:
    records, tensors = make_run("mlp", "cnn")
    tensors = {n: {k: v.clone() for k, v in ts.items()} for n, ts in tensors.items()}
    records = copy.deepcopy(records)
    if drift:
        tensors["mlp"]["param/fc.weight"] += 0.5
    fp = fingerprint(torch__version=torch_version)
    fp["packages"]["torch"] = torch_version
    write_run(runs / env, records, tensors, fp)
    write_status(runs, EnvStatus(env, "ran", "sha-" + env, python="/x/bin/python"))


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    _env_run(runs, BASE, "2.13.0")
    _env_run(runs, SAME, "2.14.1")
    _env_run(runs, OLD, "2.6.0", drift=True)
    return runs


def _broken(runs: Path) -> None:
    message = "cannot build environment 'torch-9.9.9': no installable distribution for torch==9.9.9"
    write_status(runs, EnvStatus(BROKEN, "not built", "sha-" + BROKEN, message=message))


def test_version_key_orders_versions_numerically() -> None:
    """torch-2.6.0 sorts before torch-2.13.0 (not as text)."""
    assert sorted([SAME, OLD, BASE], key=version_key) == [OLD, BASE, SAME]


def test_identical_environment_is_identical(runs: Path) -> None:
    """An environment with bitwise-equal runs is identical to the baseline."""
    matrix = build_matrix(runs, [BASE, SAME], BASE)
    assert [c.state for c in matrix.cells] == ["baseline", "compared"]
    assert matrix.cells[1].result is not None
    assert matrix.cells[1].result.verdict == "identical"
    assert matrix.exit_code == 0


def test_drift_exits_1(runs: Path) -> None:
    """A drifting environment makes the matrix exit 1."""
    matrix = build_matrix(runs, [BASE, SAME, OLD], BASE)
    assert [c.env for c in matrix.drifting] == [OLD]
    assert matrix.exit_code == 1


def test_pairs_are_compared_in_upgrade_order(runs: Path) -> None:
    """The older environment is the comparison's baseline side: the change reads 2.6.0 → 2.13.0."""
    cell = build_matrix(runs, [BASE, OLD], BASE).cells[1]
    assert (cell.older, cell.newer) == (OLD, BASE)
    assert cell.result is not None
    change = next(c for c in cell.result.environment if c.path == "torch.version")
    assert (change.baseline, change.candidate) == ("2.6.0", "2.13.0")


def test_unbuilt_environment_exits_3_and_others_are_still_reported(runs: Path) -> None:
    """An environment that could not be built: exit 3, and the others are still compared."""
    _broken(runs)
    matrix = build_matrix(runs, [BASE, SAME, OLD, BROKEN], BASE)
    states = {c.env: c.state for c in matrix.cells}
    assert states == {BASE: "baseline", SAME: "compared", OLD: "compared", BROKEN: "not built"}
    assert matrix.exit_code == 3
    text = render_text(matrix)
    assert "not built: cannot build environment 'torch-9.9.9'" in text
    assert "torch==9.9.9" in text


def test_environment_never_replayed_is_not_run_without_failing(runs: Path) -> None:
    """A lockfile whose replay session never ran is shown as not run; it does not fail."""
    matrix = build_matrix(runs, [BASE, SAME, "torch-3.0.0"], BASE)
    assert matrix.cells[2].state == "not run"
    assert matrix.exit_code == 0


def test_run_from_an_older_lockfile_counts_as_not_run(runs: Path) -> None:
    """A run made before its lockfile changed is stale and not compared."""
    hashes = {BASE: "sha-" + BASE, SAME: "another-hash"}
    matrix = build_matrix(runs, [BASE, SAME], BASE, lockfile_hashes=hashes)
    assert matrix.cells[1].state == "not run"
    assert "lockfile changed" in (matrix.cells[1].message or "")


def test_baseline_not_built_means_nothing_is_compared(runs: Path) -> None:
    """Without the baseline's run, the others are reported as not comparable and it fails."""
    _broken(runs)
    matrix = build_matrix(runs, [BROKEN, BASE], BROKEN)
    assert [c.state for c in matrix.cells] == ["not built", "not run"]
    assert "cannot compare: baseline torch-9.9.9 not built" in (matrix.cells[1].message or "")
    assert matrix.exit_code == 3


def test_unknown_baseline_is_an_input_error(runs: Path) -> None:
    """The baseline must be one of the environments."""
    with pytest.raises(InputError, match=r"torch-1\.0"):
        build_matrix(runs, [BASE, SAME], "torch-1.0")


def test_text_has_one_table_with_a_column_per_environment(runs: Path) -> None:
    """Rows are scenarios, columns environments; a cell shows verdict and kind."""
    text = render_text(build_matrix(runs, [BASE, SAME, OLD], BASE))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    assert header.split() == ["scenario", BASE, SAME, OLD]
    mlp = next(line for line in lines if line.startswith("mlp "))
    assert mlp.split()[1:3] == ["baseline", "identical"]
    assert "drift" in mlp.split()[3]
    assert f"{OLD} → {BASE}: drift" in text
    assert "torch 2.6.0 → 2.13.0" in text


def test_text_is_the_table_then_the_verdict_with_a_line_per_environment(runs: Path) -> None:
    """As the README shows it: table, blank line, `matrix verdict: ...`, indented env lines."""
    matrix = build_matrix(runs, [BASE, OLD, SAME], BASE)
    table = render_table(matrix)
    assert table.splitlines()[0].split() == ["scenario", BASE, OLD, SAME]
    assert "matrix verdict" not in table
    verdict = render_verdict(matrix.result()).splitlines()
    assert verdict[0] == f"matrix verdict: drift (1 of 2 environment(s) drift from {BASE})"
    assert verdict[1] == f"  {BASE}  baseline"
    assert verdict[2].startswith(f"  {OLD}   {OLD} → {BASE}: drift in mlp")
    assert verdict[3].startswith(f"  {SAME}  {BASE} → {SAME}: identical")
    assert render_text(matrix) == table + "\n" + "\n".join(verdict) + "\n"


def test_markdown_is_a_table(runs: Path) -> None:
    """The markdown report is a GitHub table with the same cells."""
    md = render_markdown(build_matrix(runs, [BASE, SAME], BASE))
    assert f"| scenario | `{BASE}` | `{SAME}` |" in md
    assert "| mlp | baseline | identical |" in md


def test_main_prints_and_writes_reports(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m reprocheck.integrations.matrix_main` prints, writes JSON, returns the code."""
    _broken(runs)
    out = runs / "matrix.json"
    code = main([BASE, SAME, BROKEN, "--baseline", BASE, "--runs", str(runs), "--json", str(out)])
    assert code == 3
    assert "matrix verdict: environment failure" in capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["exit_code"] == 3
    assert [e["state"] for e in data["environments"]] == ["baseline", "compared", "not built"]
    assert data["environments"][1]["comparison"]["verdict"] == "identical"


def test_main_table_only_leaves_the_verdict_to_the_caller(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--table-only prints the table alone; every --json file gets the whole result."""
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    argv = [BASE, OLD, "--baseline", BASE, "--runs", str(runs), "--table-only"]
    assert main([*argv, "--json", str(first), "--json", str(second)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("scenario")
    assert "matrix verdict" not in out
    assert f"{OLD} → {BASE}" not in out
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    result = read_matrix_result(first)
    assert (result.exit_code, result.baseline) == (1, BASE)
    assert [env for env, _ in result.lines] == [BASE, OLD]
    assert result.summary.startswith("matrix verdict: drift")


def test_result_round_trips_through_its_json(runs: Path, tmp_path: Path) -> None:
    """read_matrix_result gives back the verdict part of what the matrix wrote."""
    matrix = build_matrix(runs, [BASE, SAME, OLD], BASE)
    path = tmp_path / "matrix.json"
    write_matrix(path, matrix)
    assert read_matrix_result(path) == matrix.result()


def test_whole_matrix_round_trips_through_its_file(runs: Path, tmp_path: Path) -> None:
    """Every cell, comparison included, reads back equal, in the table's order."""
    _broken(runs)
    matrix = build_matrix(runs, [BASE, SAME, OLD, BROKEN, "torch-3.0.0"], BASE)
    path = tmp_path / "matrix.json"
    write_matrix(path, matrix)
    assert read_matrix(path) == matrix
    assert [c.state for c in matrix.cells] == [
        "baseline",
        "compared",
        "compared",
        "not built",
        "not run",
    ]


def test_matrix_whose_verdict_disagrees_with_its_cells_is_rejected(
    runs: Path, tmp_path: Path
) -> None:
    """A matrix.json edited to say reproducible while a cell drifts does not read back."""
    path = tmp_path / "matrix.json"
    write_matrix(path, build_matrix(runs, [BASE, OLD], BASE))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["exit_code"] = 0
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ArtifactError, match="recorded verdict"):
        read_matrix(path)


def test_matrix_json_keeps_the_table_order_of_its_lines(runs: Path, tmp_path: Path) -> None:
    """`lines` lists the environments as the table does (not sorted as text)."""
    path = tmp_path / "matrix.json"
    write_matrix(path, build_matrix(runs, [BASE, OLD, SAME], BASE))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data["lines"]) == [BASE, OLD, SAME]
    assert (data["kind"], data["schema_version"]) == ("reprocheck-matrix", 1)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "reprocheck-run"},
        {"exit_code": 2},
        {"exit_code": True},
        {"exit_code": "1"},
        {"lines": {}},
        {"lines": ["a"]},
        {"summary": None},
    ],
)
def test_result_that_is_not_a_matrix_is_an_artifact_error(
    tmp_path: Path, change: dict[str, object]
) -> None:
    """Anything but a matrix result with a verdict exit code is rejected, naming the file."""
    good = MatrixResult(BASE, ExitCode.DRIFT, "matrix verdict: drift", ((BASE, "baseline"),))
    header = {"schema_version": 1, "kind": "reprocheck-matrix"}
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps({**header, **good.to_dict(), **change}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"matrix\.json"):
        read_matrix_result(path)


def test_missing_or_corrupt_result_is_an_artifact_error(tmp_path: Path) -> None:
    """No file, or not JSON: an ArtifactError naming it (never a traceback)."""
    with pytest.raises(ArtifactError, match="does not exist"):
        read_matrix_result(tmp_path / "matrix.json")
    (tmp_path / "matrix.json").write_text("{", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_matrix_result(tmp_path / "matrix.json")
    (tmp_path / "matrix.json").write_text('{"kind": "reprocheck-matrix", "schema_version": 9}')
    with pytest.raises(ArtifactError, match="schema_version 9"):
        read_matrix_result(tmp_path / "matrix.json")


def test_main_reports_bad_input_as_exit_2(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown baseline: Error/Hint on stderr and exit 2, no traceback."""
    code = main([BASE, "--baseline", "nope", "--runs", str(runs)])
    assert code == 2
    assert capsys.readouterr().err.startswith("Error: baseline 'nope'")


def test_corrupt_status_is_an_artifact_error(tmp_path: Path) -> None:
    """A status record that is not JSON is reported, naming the file."""
    path = tmp_path / ".status" / "x.json"
    path.parent.mkdir()
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"x\.json"):
        read_status(tmp_path, "x")


def test_status_round_trips(tmp_path: Path) -> None:
    """What write_status records, read_status returns."""
    status = EnvStatus("e", "not built", "abc", message="why")
    write_status(tmp_path, status)
    assert read_status(tmp_path, "e") == status


def test_status_file_has_its_header_and_fields(tmp_path: Path) -> None:
    """The status file's keys are as before the split: header plus the fields."""
    write_status(tmp_path, EnvStatus("e", "ran", "abc", python="/x/bin/python"))
    data = json.loads(status_path(tmp_path, "e").read_text(encoding="utf-8"))
    assert data == {
        "schema_version": 1,
        "kind": "reprocheck-env-status",
        "env": "e",
        "state": "ran",
        "lockfile_sha256": "abc",
        "python": "/x/bin/python",
        "message": None,
    }


@pytest.mark.parametrize(
    "change",
    [{"state": "exploded"}, {"kind": "reprocheck-run"}, {"env": 3}, {"python": ["x"]}],
)
def test_status_that_is_not_one_is_an_artifact_error(
    tmp_path: Path, change: dict[str, object]
) -> None:
    """An unknown state, another kind or a wrongly typed key: rejected, naming the file."""
    write_status(tmp_path, EnvStatus("e", "ran", "abc"))
    path = status_path(tmp_path, "e")
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **change}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"e\.json") as info:
        read_status(tmp_path, "e")
    assert info.value.hint == "Re-run its replay session."


def test_host_side_modules_import_no_dependency() -> None:
    """The nox helper, matrix and lock modules load on a host with only nox installed."""
    code = (
        "import sys, reprocheck.nox, reprocheck.pinned.lock\n"
        "import reprocheck.artifacts.matrix_files, reprocheck.report.matrix\n"
        "heavy = ('torch', 'numpy', 'click', 'deepdiff', 'safetensors')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_main_appends_markdown_to_the_github_step_summary(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under GitHub Actions the matrix's markdown is appended to the step summary."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main([BASE, SAME, "--baseline", BASE, "--runs", str(runs)]) == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier\n## reprocheck matrix")
