"""Planted changes in copies of the built-in ``transformer``, compared with the original.

Real runs (tests/data/planted_scenarios.py, two steps each) and the real CLI: each copy is
paired with the original through ``compare --pair``, and the first divergence must name
the change: its module, its operator, and the argument or dtype that changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"
PLANTED = ("same", "eps", "gelu_tanh", "dropout_p", "bf16_linear", "shuffled", "lr")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("planted") / "run"
    names = ["transformer", *(f"planted_scenarios:{p}" for p in PLANTED)]
    cmd = [sys.executable, "-m", "reprocheck", "-q", "run", *names, "--steps", "2"]
    subprocess.run([*cmd, "--out", str(out)], cwd=DATA, check=True, capture_output=True)
    return out


def _compare(run: Path, planted: str, fmt: str = "json") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "reprocheck", "compare", str(run), str(run), "--format", fmt]
    cmd += ["--pair", f"transformer=planted_scenarios:{planted}"]
    return subprocess.run(cmd, check=False, capture_output=True, text=True)


def _first(run: Path, planted: str) -> dict[str, Any]:
    done = _compare(run, planted)
    assert done.returncode == 1, done.stderr
    first: dict[str, Any] = json.loads(done.stdout)["scenarios"][0]["first_divergence"]
    return first


def test_an_unchanged_copy_is_identical(runs: Path) -> None:
    done = _compare(runs, "same")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "identical"


def test_layer_norm_eps_is_a_computation_change_naming_eps(runs: Path) -> None:
    first = _first(runs, "eps")
    assert first["kind"] == "computation"
    assert first["location"] == "transformer.ln1"
    assert first["operator"].startswith("aten.native_layer_norm")
    assert first["evidence"]["changed_arguments"] == {"eps": [1e-05, 1e-06]}
    assert "eps 1e-05 → 1e-06" in first["evidence"]["text"]


def test_gelu_tanh_is_a_computation_change_naming_approximate(runs: Path) -> None:
    first = _first(runs, "gelu_tanh")
    assert first["kind"] == "computation"
    assert first["location"] == "transformer.mlp.1"
    assert first["operator"].startswith("aten.gelu")
    assert "approximate 'none' → 'tanh'" in first["evidence"]["text"]


def test_bf16_autocast_linear_is_a_precision_change_at_that_linear(runs: Path) -> None:
    first = _first(runs, "bf16_linear")
    assert first["kind"] == "computation"
    assert first["location"] == "transformer.mlp.0"
    assert first["evidence"]["basis"] == "dtypes"
    assert "float32 → bfloat16" in first["evidence"]["text"]


def test_dropout_p_is_named_as_the_dropouts_p(runs: Path) -> None:
    first = _first(runs, "dropout_p")
    assert first["kind"] == "computation"
    assert first["location"] == "transformer.dropout"
    assert "dropout p 0.1 → 0.11" in first["evidence"]["text"]


def test_shuffled_data_is_a_random_stream_change_at_batch(runs: Path) -> None:
    first = _first(runs, "shuffled")
    assert (first["kind"], first["location"], first["operator"]) == ("random-stream", "batch", None)


def test_a_changed_learning_rate_is_a_computation_at_lr(runs: Path) -> None:
    first = _first(runs, "lr")
    assert (first["kind"], first["location"]) == ("computation", "lr")
    assert "learning rate 0.001 → 0.002" in first["evidence"]["text"]


def test_the_text_report_shows_the_evidence_in_one_line(runs: Path) -> None:
    done = _compare(runs, "eps", fmt="text")
    lines = [line for line in done.stdout.splitlines() if "evidence:" in line]
    assert len(lines) == 1
    assert "eps 1e-05 → 1e-06 in transformer.ln1" in lines[0]
    markdown = _compare(runs, "eps", fmt="markdown").stdout
    assert "eps 1e-05 → 1e-06" in markdown
