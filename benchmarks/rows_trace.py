"""Operator-trace figures (issue 3): one training step traced vs the same step untraced.

For every built-in scenario, in one fresh subprocess: build it under the engine's seeded,
deterministic settings, warm up, then alternate untraced and traced steps (the engine's
own step, per-step recording included; a traced step attaches a fresh ``OpTracer`` and
records forward, backward and optimizer) and report the medians. Goal: traced <= 3x
untraced. The untraced step is the reference, measured in the same process, interleaved.

Times are the process's CPU time with one intra-op thread: the tracer's work is serial
Python, and on a shared 2-core machine wall time mostly measures the neighbours (and
OpenMP spin-waiting inflates multi-threaded CPU time). ``REPROCHECK_BENCH_TRACE_WALL=1``
measures wall time with torch's default threads instead.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _bench import Row

GOAL = 3.0
HERE = Path(__file__).resolve()


def _repeats() -> int:
    return max(5, int(os.environ.get("REPROCHECK_BENCH_REPEAT", "5")) * 2 + 1)


def _worker() -> None:
    import torch

    wall = os.environ.get("REPROCHECK_BENCH_TRACE_WALL") == "1"
    clock = time.perf_counter if wall else time.process_time
    if not wall:
        torch.set_num_threads(1)

    from reprocheck.replay.seeding import seeded
    from reprocheck.replay.step import Trainer
    from reprocheck.replay.trace import OpTracer
    from reprocheck.scenarios import BUILTIN_NAMES, load_scenario
    from reprocheck.scenarios.api import ScenarioContext

    results = {}
    for name in BUILTIN_NAMES:
        spec = load_scenario(name)
        with seeded(0) as generator:
            ctx = ScenarioContext(
                seed=0,
                steps=spec.default_steps,
                device="cpu",
                generator=generator,
                dtype=torch.get_default_dtype(),
            )
            loop = Trainer(name, spec.create(ctx))
            loop.step(0, None)  # warm-up: first-call allocations and optimizer state
            plain, traced, ops = [], [], 0
            for _ in range(_repeats()):
                start = clock()
                loop.step(0, None)
                plain.append(clock() - start)
                tracer = OpTracer(name)
                start = clock()
                tracer.attach(loop.scenario.model)
                loop.step(0, tracer)
                tracer.close()
                traced.append(clock() - start)
                ops = len(tracer.entries)
        results[name] = {
            "plain": statistics.median(plain),
            "traced": statistics.median(traced),
            "ops": ops,
        }
    print(json.dumps(results))


def rows() -> list[Row]:
    """One row per built-in scenario: traced step vs untraced step."""
    proc = subprocess.run(
        [sys.executable, str(HERE), "--worker"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        raise RuntimeError(f"trace benchmark worker failed: {tail}")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    wall = os.environ.get("REPROCHECK_BENCH_TRACE_WALL") == "1"
    how = "wall time, default threads" if wall else "CPU time, 1 thread"
    out = []
    for name, r in results.items():
        out.append(
            Row(
                name=f"{name}: one traced step ({r['ops']} operators)",
                value=r["traced"],
                unit="s",
                reference_name=f"the same step untraced ({how})",
                reference_value=r["plain"],
                goal=f"<= {GOAL:g}x untraced",
                ok=r["traced"] <= GOAL * r["plain"],
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
