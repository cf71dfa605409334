"""repro.py's copy of the trace digest gives the trace's digest (the script must not import
reprocheck, so it carries its own copy; this holds the two equal)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from reprocheck.replay.trace_digest import describe_outputs, op_info
from reprocheck.workflows.repro_script import script_text

META = {
    "op": "aten.add.Tensor",
    "module": "m",
    "scenario": "s",
    "step": 0,
    "phase": "forward",
    "index": 3,
    "baseline_torch": "2.13.0",
    "digest": "0" * 32,
}


def _script(tmp_path: Path) -> ModuleType:
    path = tmp_path / "repro.py"
    path.write_text(script_text(META), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("repro_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "tensors",
    [
        [torch.randn(3, 4)],
        [torch.randn(200, 300)],  # above 64 KiB: the subset and min/max path
        [torch.randn(70000, dtype=torch.bfloat16), torch.arange(5)],
        [torch.randn(4, 5).t()],  # not contiguous
        [torch.tensor(1.5, dtype=torch.float64)],
    ],
)
def test_the_script_digest_is_the_trace_digest(tmp_path: Path, tensors: list[torch.Tensor]) -> None:
    script = _script(tmp_path)
    shapes = tuple(tuple(t.shape) for t in tensors)
    expected, _ = describe_outputs(tensors, shapes, tensors, op_info(torch.ops.aten.add.Tensor))
    assert script.digest(tensors, tensors, True) == expected


def test_the_ulp_distance_counts_representable_floats(tmp_path: Path) -> None:
    script = _script(tmp_path)
    a = torch.tensor([1.0, -2.0, 0.0])
    b = torch.nextafter(torch.nextafter(a, a + 1), a + 1)
    differ, total, ulp = script.distance(b, a)
    assert (differ, total, ulp) == (3, 3, 2)
