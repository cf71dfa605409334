"""The capture process and the script, end to end on a tiny scenario with dropout.

A random operator is reproduced too: the script restores the generator state the call
saw, so it draws what the baseline drew.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.repro_files import load_repro_json, write_script
from reprocheck.replay.loop import replay
from reprocheck.replay.options import ReplayOptions
from reprocheck.scenarios import load_scenario
from reprocheck.workflows.repro import capture_main
from reprocheck.workflows.repro_script import script_text

TINY = """
import torch, reprocheck

def build(ctx):
    layers = [torch.nn.Linear(8, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2)]
    model = torch.nn.Sequential(*layers)
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: x[step],
        loss=lambda model, b: model(b).square().mean(),
    )
"""
NAME = "tinydrop:build"


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tinydrop.py").write_text(TINY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


# Dropout's mask is an in-place bernoulli_ on the CPU: a random operator that writes its
# input, so its output is what it wrote, drawn from the generator state the script restores.
@pytest.mark.parametrize("op", ["aten.bernoulli_.float", "aten.addmm.default"])
def test_a_captured_call_reproduces_its_output(scenario: Path, op: str) -> None:
    options = ReplayOptions(steps=2)
    record, _ = replay(load_scenario(NAME), options)
    entry = next(e for e in record.trace if e.op == op and e.phase == "forward")
    out = scenario / "repro"
    out.mkdir()
    key = {"step": 0, "phase": "forward", "module": entry.module, "op": op, "occurrence": 0}
    meta = {
        "scenario": NAME,
        "step": entry.step,
        "phase": entry.phase,
        "index": entry.index,
        "op": op,
        "module": entry.module,
        "digest": entry.digest,
        "device": "cpu",
        "baseline_torch": "this",
    }
    job = {"scenario": NAME, "options": options.to_dict(), "key": key, "meta": meta}
    job_file = scenario / "job.json"
    job_file.write_text(json.dumps({**job, "threads": None, "out": str(out)}), encoding="utf-8")
    capture_main([str(job_file)])
    written = load_repro_json(out)
    assert written["reproduced"] is True
    write_script(out, script_text(written))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", str(out / "repro.py")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduces the baseline's output bit for bit" in done.stdout
