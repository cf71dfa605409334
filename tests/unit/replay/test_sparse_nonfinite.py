"""The trainer's sparse norms and its first non-finite step, with real torch."""

from __future__ import annotations

import math

import torch

import reprocheck
from reprocheck.replay.options import ReplayOptions
from reprocheck.replay.step import Trainer, first_nonfinite, norm_operands
from reprocheck.replay.trace import OpTracer


def _scenario(lr: float, *, sparse: bool = False) -> reprocheck.Scenario:
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 4, sparse=sparse)
    model = torch.nn.Sequential(emb, torch.nn.Linear(4, 1))
    idx = torch.tensor([1, 2, 2, 7])
    y = torch.ones(4, 1)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        batch=lambda step: (idx, y),
        loss=lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
    )


def test_sparse_gradient_norm_is_its_values_norm() -> None:
    dense = Trainer("d", _scenario(0.1)).step(0, None)
    sparse = Trainer("s", _scenario(0.1, sparse=True)).step(0, None)
    assert math.isclose(dense.grad_norm, sparse.grad_norm, rel_tol=1e-6)
    assert dense.grad_digests["0.weight"] != sparse.grad_digests["0.weight"]
    duplicated = torch.sparse_coo_tensor(
        torch.tensor([[0, 0]]), torch.tensor([3.0, 1.0]), (2,), check_invariants=True
    )
    assert [t.tolist() for t in norm_operands([duplicated])] == [[4.0]]


def test_trainer_keeps_the_first_nonfinite_step() -> None:
    trainer = Trainer("b", _scenario(1e12))
    for step in range(6):
        trainer.step(step, None)
    found = trainer.first_nonfinite
    assert found is not None
    assert found.step <= 5
    healthy = Trainer("h", _scenario(0.01))
    for step in range(3):
        healthy.step(step, None)
    assert healthy.first_nonfinite is None


def test_first_nonfinite_order_and_overflowing_norms() -> None:
    big = torch.full((4,), 3e38)  # finite, but its float32 norm overflows
    bad = torch.tensor([1.0, math.nan])
    tensors = {"big": big, "bad": bad}
    norms = {"big": math.inf, "bad": math.nan}
    assert first_nonfinite(math.nan, norms, tensors, "grad of ") == "loss"
    assert first_nonfinite(1.0, norms, tensors, "grad of ") == "grad of bad"
    assert first_nonfinite(1.0, {"big": math.inf}, tensors, "") is None


def test_trace_digests_sparse_outputs_exactly() -> None:
    """Two traced steps that differ only in a sparse gradient's values trace differently."""

    def traced(scale: float) -> set[str]:
        scenario = _scenario(0.1, sparse=True)
        tracer = OpTracer("t")
        tracer.attach(scenario.model)
        with tracer.recording(0, "backward"):
            loss = scenario.loss(scenario.model, scenario.batch(0)) * scale
            loss.backward()
        tracer.close()
        return {e.digest for e in tracer.entries}

    assert traced(1.0) == traced(1.0)
    assert traced(1.0) != traced(2.0)
    assert ReplayOptions  # the replay options type stays importable alongside
