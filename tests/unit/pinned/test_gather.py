"""pinned/gather.py and report/machines.py: the matrix of runs gathered from several machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from compare_support import fingerprint, make_run, write_run

from reprocheck.errors import ArtifactError, InputError
from reprocheck.pinned.gather import gather_matrix, gathered_runs
from reprocheck.report.machines import render_hardware, render_hardware_markdown


def _machines(root: Path) -> None:
    records, tensors = make_run("mlp")
    write_run(root / "laptop", records, tensors)
    other = fingerprint(cpu__model="Other CPU", cuda__driver_version="580.65.06")
    write_run(root / "a100-box", records, tensors, other)


def test_every_run_is_compared_with_the_baseline_as_its_baseline_side(tmp_path: Path) -> None:
    """The baseline's column first, then each run, compared baseline → run."""
    _machines(tmp_path)
    matrix = gather_matrix(tmp_path, "laptop")
    assert [(c.env, c.state) for c in matrix.cells] == [
        ("laptop", "baseline"),
        ("a100-box", "compared"),
    ]
    cell = matrix.cells[1]
    assert (cell.older, cell.newer) == ("laptop", "a100-box")
    assert cell.result is not None
    assert cell.result.verdict == "identical"


def test_the_hardware_block_names_what_each_machine_changes(tmp_path: Path) -> None:
    """CPU model and driver named in words, even where the numbers agree."""
    _machines(tmp_path)
    text = render_hardware(gather_matrix(tmp_path, "laptop"))
    assert text.splitlines()[0] == "hardware against laptop:"
    line = text.splitlines()[1]
    assert "CPU model Test CPU → Other CPU" in line
    assert "GPU driver (none) → 580.65.06" in line
    assert "**a100-box**" in render_hardware_markdown(gather_matrix(tmp_path, "laptop"))


def test_same_hardware_says_so(tmp_path: Path) -> None:
    records, tensors = make_run("mlp")
    write_run(tmp_path / "a", records, tensors)
    write_run(tmp_path / "b", records, tensors)
    assert "b  same hardware" in render_hardware(gather_matrix(tmp_path, "a"))


def test_a_directory_without_manifest_is_not_run(tmp_path: Path) -> None:
    _machines(tmp_path)
    (tmp_path / "half").mkdir()
    cell = gather_matrix(tmp_path, "laptop").cells[-1]
    assert (cell.env, cell.state) == ("half", "not run")
    assert cell.message is not None
    assert "incomplete run" in cell.message


def test_an_incomplete_baseline_is_an_artifact_error(tmp_path: Path) -> None:
    _machines(tmp_path)
    (tmp_path / "laptop" / "run.json").unlink()
    with pytest.raises(ArtifactError, match="not a complete run"):
        gather_matrix(tmp_path, "laptop")


def test_an_unknown_baseline_names_the_runs(tmp_path: Path) -> None:
    _machines(tmp_path)
    with pytest.raises(InputError, match="a100-box, laptop"):
        gather_matrix(tmp_path, "desktop")


def test_hidden_directories_are_not_runs(tmp_path: Path) -> None:
    """A writer's hidden partial directory (``.x.partial-...``) is not a column."""
    _machines(tmp_path)
    (tmp_path / ".laptop.partial-1-abc").mkdir()
    assert gathered_runs(tmp_path) == ["a100-box", "laptop"]


def test_an_empty_directory_holds_no_runs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no runs"):
        gathered_runs(tmp_path)


def _on(device: str) -> tuple[dict[str, Any], dict[str, Any]]:
    records, tensors = make_run("mlp")
    records["mlp"]["config"]["device"] = device
    return records, tensors


def test_each_run_is_compared_with_the_baseline_of_its_device(tmp_path: Path) -> None:
    """CPU runs against the CPU baseline, CUDA runs against the CUDA one (made-up records:
    no GPU is needed to compare two runs that say they ran on one)."""
    write_run(tmp_path / "x86", *_on("cpu"))
    write_run(tmp_path / "arm", *_on("cpu"), fingerprint(cpu__model="Neoverse-V2"))
    write_run(tmp_path / "gpu-a100", *_on("cuda"))
    write_run(tmp_path / "gpu-h100", *_on("cuda"), fingerprint(cuda__devices=[{"name": "H100"}]))
    matrix = gather_matrix(tmp_path, ["x86", "gpu-a100"])
    pairs = {c.env: (c.state, c.older) for c in matrix.cells}
    assert pairs == {
        "x86": ("baseline", None),
        "gpu-a100": ("baseline", None),
        "arm": ("compared", "x86"),
        "gpu-h100": ("compared", "gpu-a100"),
    }
    text = render_hardware(matrix)
    assert "gpu-h100  (vs gpu-a100) GPU (none) → H100" in text
    assert "arm       (vs x86) CPU model Test CPU → Neoverse-V2" in text


def test_a_run_without_a_baseline_of_its_device_is_not_run(tmp_path: Path) -> None:
    write_run(tmp_path / "x86", *_on("cpu"))
    write_run(tmp_path / "gpu", *_on("cuda"))
    cell = gather_matrix(tmp_path, "x86").cells[-1]
    assert (cell.env, cell.state) == ("gpu", "not run")
    assert cell.message == "no baseline ran on cuda (name one with --baseline)"
