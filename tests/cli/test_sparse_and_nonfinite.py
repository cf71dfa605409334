"""Sparse gradients and non-finite training, end to end through the CLI (issue 13, 7-8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprocheck.cli import cli

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the sparse and blow-up scenarios as plain modules."""
    for name in ("sparse.py", "blowup.py"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLOWUP_LR", raising=False)
    return tmp_path


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _record(run: Path) -> dict:
    (path,) = run.glob("scenarios/*/record.json")
    return json.loads(path.read_text(encoding="utf-8"))


def test_sparse_scenarios_run_compare_identical_and_are_deterministic(workdir: Path) -> None:
    """Embedding(sparse=True)+SGD (sparse momentum) and EmbeddingBag+SparseAdam: all exit 0."""
    for out in ("a", "b"):
        code, _, err = _invoke("run", "sparse:build", "sparse:adam", "--out", out)
        assert code == 0, err
    code, out, err = _invoke("compare", "a", "b")
    assert code == 0, err
    assert "identical: 2 scenario(s) bitwise equal" in out
    code, out, err = _invoke("determinism", "sparse:build", "sparse:adam")
    assert code == 0, err
    assert out.count("deterministic (3 replays bitwise equal)") == 2
    records = {r["name"]: r for r in map(json.loads, _texts(workdir / "a"))}
    sgd = records["sparse:build"]
    # The embedding's momentum buffer is sparse in training: stored densified, layout kept.
    buffer = dict(sgd["tensors"]["optim/0.weight/momentum_buffer"])
    assert buffer.pop("digest").startswith("crc32:")  # verified on read like every tensor
    assert buffer == {"dtype": "float32", "shape": [32, 8], "layout": "sparse_coo"}
    assert "layout" not in sgd["tensors"]["param/0.weight"]
    assert all(s["grad_norm"] > 0 for s in sgd["steps"])
    assert sgd["first_nonfinite"] is None


def _texts(run: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(run.glob("scenarios/*/record.json"))]


def test_blowup_names_the_first_nonfinite_step(workdir: Path) -> None:
    """LR 1e6: a warning names the step; the record keeps it; determinism still holds."""
    code, _, err = _invoke("run", "blowup:build", "--out", "blown")
    assert code == 0, err
    assert "warning: blowup:build: loss non-finite from step 2" in err
    record = _record(workdir / "blown")
    assert record["first_nonfinite"] == {"step": 2, "what": "loss"}
    assert record["steps"][3]["loss"].startswith("nan")
    # NaNs round-trip bit-exactly through the fresh subprocess's JSON.
    code, out, err = _invoke("determinism", "blowup:build")
    assert code == 0, (out, err)


def test_compare_leads_with_the_nonfinite_side(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Healthy baseline, blown-up candidate: drift, and the first detail says where."""
    monkeypatch.setenv("BLOWUP_LR", "0.01")
    code, _, err = _invoke("run", "blowup:build", "--out", "healthy")
    assert code == 0, err
    assert "non-finite" not in err
    monkeypatch.delenv("BLOWUP_LR")
    assert _invoke("run", "blowup:build", "--out", "blown")[0] == 0
    code, out, _ = _invoke("compare", "healthy", "blown")
    assert code == 1
    lines = out.splitlines()
    details = lines[lines.index("blowup:build:") + 1]
    assert details == "  candidate: loss non-finite from step 2; baseline finite"
    code, out, _ = _invoke("compare", "blown", "healthy", "--format", "json")
    (scenario,) = json.loads(out)["scenarios"]
    assert scenario["verdict"] == "drift"
    assert scenario["nonfinite"] == "baseline: loss non-finite from step 2; candidate finite"
    code, out, _ = _invoke("compare", "healthy", "blown", "--format", "markdown")
    assert "- candidate: loss non-finite from step 2; baseline finite" in out
