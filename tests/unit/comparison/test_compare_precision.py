"""A precision change (autocast, a cast to bfloat16) is the first divergence, both dtypes named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from reprocheck.comparison.localize import align_traces
from reprocheck.comparison.precision import at_precision
from reprocheck.model.records import TraceEntry
from reprocheck.replay.trace_digest import describe_outputs, op_info

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def _entry(index: int, op: str, module: str, t: torch.Tensor) -> TraceEntry:
    namespace, packet, overload = op.split(".")
    func = getattr(getattr(getattr(torch.ops, namespace), packet), overload)
    digest, (absmax, mean, sample) = describe_outputs([t], (tuple(t.shape),), t, op_info(func))
    dtype = str(t.dtype).removeprefix("torch.")
    return TraceEntry(
        0, index, "forward", op, module, (tuple(t.shape),), (dtype,), digest, absmax, mean, sample
    )


def test_dtype_change_wins_over_a_later_differing_operator() -> None:
    x = torch.randn(4, 8)
    base = [
        _entry(0, "aten.addmm.default", "fc1", x),
        _entry(1, "aten.add.Tensor", "", x + 1),
    ]
    cand = [
        _entry(0, "aten.addmm.default", "fc1", x.to(torch.bfloat16)),
        _entry(1, "aten.add.Tensor", "", x + 2),
    ]
    alignment = align_traces(base, cand)
    assert alignment.first is not None
    assert alignment.first.baseline.op == "aten.add.Tensor"
    assert alignment.precision is not None
    found = at_precision(alignment.precision)
    assert found.kind == "computation"
    assert (found.location, found.operator) == ("fc1", "aten.addmm.default")
    assert found.detail == "precision change: float32 → bfloat16 in fc1 (aten.addmm)"


def test_one_sided_cast_to_bfloat16_comes_first() -> None:
    x = torch.randn(4, 8)
    base = [_entry(0, "aten.relu.default", "act", x.relu())]
    cand = [
        _entry(0, "aten._to_copy.default", "act", x.to(torch.bfloat16)),
        _entry(1, "aten.relu.default", "act", x.to(torch.bfloat16).relu()),
    ]
    alignment = align_traces(base, cand)
    assert alignment.precision is not None
    found = at_precision(alignment.precision)
    assert found.operator == "aten._to_copy.default"
    assert "float32 → bfloat16" in (found.detail or "")


def test_same_dtypes_have_no_precision_change() -> None:
    x = torch.randn(4, 8)
    base = [_entry(0, "aten.addmm.default", "fc1", x)]
    cand = [_entry(0, "aten.addmm.default", "fc1", x + 1)]
    assert align_traces(base, cand).precision is None


def test_autocast_run_against_float32_run(tmp_path: Path) -> None:
    def run(out: Path, autocast: bool) -> None:
        env = {k: v for k, v in os.environ.items() if k != "AUTOCAST_BF16"}
        if autocast:
            env["AUTOCAST_BF16"] = "1"
        cmd = [sys.executable, "-m", "reprocheck", "run", "autocast:build", "--out", str(out)]
        subprocess.run(cmd, cwd=SCENARIOS, env=env, check=True, capture_output=True)

    run(tmp_path / "a", autocast=False)
    run(tmp_path / "b", autocast=True)
    cmd = [sys.executable, "-m", "reprocheck", "compare", str(tmp_path / "a")]
    done = subprocess.run(
        [*cmd, str(tmp_path / "b"), "--format", "json"], check=False, capture_output=True, text=True
    )
    found = json.loads(done.stdout)["scenarios"][0]["first_divergence"]
    assert found["kind"] == "computation"
    assert found["location"].endswith("fc1")
    assert found["operator"].split(".")[1] in {"_to_copy", "to", "addmm", "mm", "linear"}
    assert "float32" in found["detail"]
    assert "bfloat16" in found["detail"]
