"""``reprocheck.record`` in fresh processes: a plain loop recorded twice, and under another
CPU dispatch level, then ``reprocheck compare`` on the runs as any user would run it.

The loop (an MLP with a ``LogSoftmax`` layer, Adam, 4 steps) draws its initial weights and
data from Python's ``random``, which no CPU dispatch level changes, so the runs can only
part inside the training steps: ``ATEN_CPU_CAPABILITY=default`` against the native level
moves the vectorised ``_log_softmax`` on every x86-64 CPU, in step 0's forward.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from reprocheck.artifacts.runs import load_run

pytestmark = pytest.mark.integration

SCRIPT = """
import random, sys
import torch
import reprocheck

reprocheck.seed_everything(0)
model = torch.nn.Sequential(
    torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10), torch.nn.LogSoftmax(dim=1)
)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor([random.uniform(-0.2, 0.2) for _ in range(p.numel())]).view(p.shape))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
batches = [
    (
        torch.tensor([[random.gauss(0, 1) for _ in range(32)] for _ in range(256)]),
        torch.tensor([random.randrange(10) for _ in range(256)]),
    )
    for _ in range(4)
]
loss_fn = torch.nn.NLLLoss()
with reprocheck.record(sys.argv[1], model=model, optimizer=optimizer, name="train") as rec:
    for step, (x, y) in enumerate(batches):
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        rec.step(loss)
"""


def _record(tmp: Path, name: str, **env: str) -> Path:
    script = tmp / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env})
    out = tmp / name
    subprocess.run([sys.executable, str(script), str(out)], check=True, env=environ, timeout=300)
    return out


def _compare(a: Path, b: Path) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "reprocheck", "compare", str(a), str(b), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_a_loop_recorded_twice_compares_identical(tmp_path: Path) -> None:
    a, b = _record(tmp_path, "a"), _record(tmp_path, "b")
    code, result = _compare(a, b)
    assert code == 0
    assert result["verdict"] == "identical"
    record = load_run(a).records["train"]
    assert record.config.steps == 4
    assert record.source == "recorded"
    assert record.trace


def test_another_dispatch_level_is_located_at_an_operator_of_the_model(tmp_path: Path) -> None:
    native = _record(tmp_path, "native")
    level = load_run(native).fingerprint.get("cpu", {}).get("capability")
    if level == "DEFAULT":
        if platform.machine().lower() in ("x86_64", "amd64"):
            pytest.fail("an x86-64 CPU dispatching to DEFAULT natively")
        pytest.skip("torch dispatches to DEFAULT natively here: no vector level to lower from")
    lowered = _record(tmp_path, "lowered", ATEN_CPU_CAPABILITY="default")
    code, result = _compare(native, lowered)
    assert result["verdict"] != "identical", code
    (scenario,) = result["scenarios"]  # type: ignore[misc]
    where = scenario["first_divergence"]
    assert where["step"] == 0
    assert str(where["operator"]).startswith("aten.")
    assert str(where["location"]).startswith("train.")
    modules = load_run(native).records["train"].modules
    assert where["location"] in modules
