"""torch.compile and DataLoader workers in a replay, with real torch (slow: see timings).

* A ``torch.compile`` model (inductor on the CPU, ~10-40 s of compiling) runs compiled in
  every untraced step: the record's ``compiled`` and dynamo's own counters say so; its
  final tensors and per-step digests carry the same names as the eager model's.
* A deterministic ``DataLoader(num_workers=2)`` is deterministic in every invocation
  (the workers' batches used to reach the trace in a racy order); unseeded augmentation in
  the workers is still caught, at the batch (~5 s an invocation, 20 of them, two at a time).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from reprocheck._compat import dynamo
from reprocheck.replay.loop import replay
from reprocheck.replay.options import ReplayOptions
from reprocheck.scenarios import load_scenario

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


def test_compiled_model_runs_compiled_outside_the_traced_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Default options (one traced step): the other steps compile, and the record says so."""
    monkeypatch.chdir(DATA)
    options = ReplayOptions(steps=3)
    eager, eager_tensors = replay(load_scenario("compiled:eager"), options)
    record, tensors = replay(load_scenario("compiled:build"), options)
    counted = dynamo.counts()
    assert record.compiled is not None
    assert eager.compiled is None
    assert record.compiled.backend == "inductor"
    assert record.compiled.eager_steps == 1
    assert record.compiled.graphs >= 1  # before the fix: 0, every step ran eager
    assert counted["graphs"] == record.compiled.graphs
    assert counted["graph_breaks"] == record.compiled.graph_breaks == 0
    # The traced step ran eager: its trace is the eager model's, and so are its names.
    assert [e.op for e in record.trace] == [e.op for e in eager.trace]
    assert {e.module for e in record.trace} == {
        e.module.replace("compiled:eager", "compiled:build") for e in eager.trace
    }
    # Key by key: the same tensors, the same per-step names, numbers close.
    assert list(tensors) == list(eager_tensors)
    for a, b in zip(record.steps, eager.steps, strict=True):
        assert list(a.param_digests) == list(b.param_digests)
        assert list(a.grad_digests) == list(b.grad_digests)
    for key, value in tensors.items():
        torch.testing.assert_close(value, eager_tensors[key], rtol=1e-4, atol=1e-5)


_FAST = ("--steps", "2", "--repeats", "2", "--no-fresh-process")


def _determinism(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprocheck", "determinism", name, *_FAST],
        cwd=DATA,
        capture_output=True,
        text=True,
        check=False,
    )


def _record_loop(out: Path, *, compiled: bool) -> None:
    import reprocheck

    reprocheck.seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 6, 8), torch.randint(0, 2, (4, 6))
    forward = torch.compile(model) if compiled else model
    with reprocheck.record(out, model=forward, optimizer=opt) as rec:
        for step in range(4):
            loss = torch.nn.functional.cross_entropy(forward(x[step]), y[step])
            loss.backward()
            opt.step()
            opt.zero_grad()
            rec.step(loss)


def test_recorded_loop_with_a_compiled_model_compiles_after_the_traced_step(
    tmp_path: Path,
) -> None:
    """``reprocheck.record`` around a compiled model: compiled after step 0, said so, key by key."""
    from reprocheck.artifacts.runs import load_run
    from reprocheck.comparison import compare

    _record_loop(tmp_path / "eager", compiled=False)
    _record_loop(tmp_path / "compiled", compiled=True)
    counted = dynamo.counts()
    record = load_run(tmp_path / "compiled").records["train"]
    assert record.compiled is not None
    assert record.compiled.backend == "inductor"
    assert record.compiled.eager_steps == 1
    assert record.compiled.graphs >= 1  # without the reset: 0, the loop ran eager throughout
    assert counted["graphs"] == record.compiled.graphs
    eager = load_run(tmp_path / "eager").records["train"]
    assert list(record.tensors) == list(eager.tensors)
    assert list(record.steps[-1].param_digests) == list(eager.steps[-1].param_digests)
    result = compare(tmp_path / "eager", tmp_path / "compiled")
    statuses = {t.status for s in result.scenarios for t in s.tensors}
    assert not statuses & {"missing_in_candidate", "missing_in_baseline"}
    assert result.verdict in ("identical", "within_tolerance"), result.summary


def test_seeded_loader_with_workers_is_deterministic_every_time() -> None:
    # Two at a time: each invocation is mostly interpreter start-up and worker processes.
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(pool.map(_determinism, ["loader:build"] * 20))
    failed = [done.stdout + done.stderr for done in codes if done.returncode != 0]
    assert not failed, f"{len(failed)} of 20 invocations failed; first:\n{failed[0]}"


def test_unseeded_worker_augmentation_is_caught_at_the_batch() -> None:
    done = _determinism("loader:augmented")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "first differs at step 0, forward, batch" in done.stdout
