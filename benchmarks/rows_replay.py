"""Replay figures (issue 3): the cost of per-step recording, and each scenario's wall time.

In one fresh subprocess, for every built-in scenario:

* recording overhead: build the scenario under the engine's seeded, deterministic
  settings, warm up, then alternate training steps with per-step recording off and on
  (the engine's own step: digests of every parameter and gradient, norms, batch digest)
  and compare the medians. Goal: recording <= 1.10x the same step without it. No operator
  trace here; rows_trace.py measures that.
* wall time: one full in-process replay at the scenario's default steps, trace of the
  first step included (what `reprocheck run` does per scenario). Goal: < 5 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bench import Row

OVERHEAD_GOAL = 1.10
WALL_GOAL_S = 5.0
HERE = Path(__file__).resolve()


def _repeats() -> int:
    return max(9, int(os.environ.get("REPROCHECK_BENCH_REPEAT", "5")) * 4 + 1)


def _unrecorded_step(loop: Any, step: int) -> None:
    """The same step's phases without the recording around them (the reference)."""
    _, _, loss = loop.forward(step, None)
    loop.backward(step, None, loss)
    loop.optimize(step, None)


def _worker() -> None:
    import torch

    from reprocheck.replay import replay_scenario
    from reprocheck.replay.seeding import seeded
    from reprocheck.replay.step import Trainer
    from reprocheck.scenarios import BUILTIN_NAMES, load_scenario
    from reprocheck.scenarios.api import ScenarioContext

    results = {}
    for name in BUILTIN_NAMES:
        spec = load_scenario(name)
        steps = _repeats() * 2 + 2
        with seeded(0) as generator:
            ctx = ScenarioContext(
                seed=0,
                steps=steps,
                device="cpu",
                generator=generator,
                dtype=torch.get_default_dtype(),
            )
            loop = Trainer(name, spec.create(ctx))
            loop.step(0, None)  # warm-up: first-call allocations and optimizer state
            loop.step(1, None)
            plain, recorded = [], []
            for i in range(_repeats()):
                start = time.perf_counter()
                _unrecorded_step(loop, 2 + 2 * i)
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                loop.step(3 + 2 * i, None)
                recorded.append(time.perf_counter() - start)
        start = time.perf_counter()
        record, _ = replay_scenario(name)
        wall = time.perf_counter() - start
        results[name] = {
            "plain": statistics.median(plain),
            "recorded": statistics.median(recorded),
            "wall": wall,
            "steps": len(record.steps),
        }
    print(json.dumps(results))


def rows() -> list[Row]:
    """Two rows per built-in scenario: recording overhead, and wall time at default steps."""
    proc = subprocess.run(
        [sys.executable, str(HERE), "--worker"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        raise RuntimeError(f"replay benchmark worker failed: {tail}")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    out = []
    for name, r in results.items():
        out.append(
            Row(
                name=f"{name}: one step with per-step recording",
                value=r["recorded"],
                unit="s",
                reference_name="the same step without recording",
                reference_value=r["plain"],
                goal=f"<= {OVERHEAD_GOAL:.2f}x unrecorded",
                ok=r["recorded"] <= OVERHEAD_GOAL * r["plain"],
            )
        )
        out.append(
            Row(
                name=f"{name}: whole replay, {r['steps']} default steps, first traced",
                value=r["wall"],
                unit="s",
                reference_name="goal",
                reference_value=WALL_GOAL_S,
                goal=f"< {WALL_GOAL_S:g} s",
                ok=r["wall"] < WALL_GOAL_S,
            )
        )
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
    else:
        for row in rows():
            print(
                f"{row.name}: {row.value * 1e3:.1f} ms vs {row.reference_value * 1e3:.1f} ms "
                f"= {row.ratio:.2f}x ({row.goal}) {'ok' if row.ok else 'MISSED'}"
            )
