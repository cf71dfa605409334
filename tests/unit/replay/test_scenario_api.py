"""The Scenario API's training features, with real torch (issue 13, item 4).

Gradient accumulation, several optimizers, ReduceLROnPlateau, clipping by value and
every param group's learning rate, each replayed by the engine's own Trainer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

import reprocheck
from reprocheck.errors import ScenarioError
from reprocheck.replay.loop import final_tensors
from reprocheck.replay.step import Trainer
from reprocheck.replay.trace import OpTracer
from reprocheck.scenarios import ScenarioSpec
from reprocheck.scenarios.api import ScenarioContext

X = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
Y = torch.randn(16, 1, generator=torch.Generator().manual_seed(2))


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _mse(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    return torch.nn.functional.mse_loss(model(batch[0]), batch[1])


def _micro(step: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(X[i : i + 4], Y[i : i + 4]) for i in range(0, 16, 4)]


def _accumulating(accumulate: str = "mean") -> reprocheck.Scenario:
    model = _model()
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        batch=_micro,
        loss=_mse,
        micro_batches=4,
        accumulate=accumulate,  # type: ignore[arg-type]
    )


def test_accumulated_loss_is_the_mean_of_the_micro_batch_losses() -> None:
    """4 micro-batches: the recorded loss is the mean the test computes itself."""
    scenario = _accumulating()
    with torch.no_grad():
        expected = math.fsum(float(_mse(scenario.model, b)) for b in _micro(0)) / 4
    record = Trainer("acc", scenario).step(0, None)
    assert record.loss == expected


def test_accumulation_takes_one_optimizer_step_on_the_summed_gradients() -> None:
    """The parameters after the step equal a hand-written accumulation loop, bit for bit."""
    engine = _accumulating()
    Trainer("acc", engine).step(0, None)
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    optimizer.zero_grad(set_to_none=True)
    for b in _micro(0):
        (_mse(model, b) / 4).backward()
    optimizer.step()
    for got, want in zip(engine.model.parameters(), model.parameters(), strict=True):
        assert torch.equal(got, want)


def test_sum_accumulation_records_the_sum() -> None:
    scenario = _accumulating("sum")
    with torch.no_grad():
        expected = math.fsum(float(_mse(scenario.model, b)) for b in _micro(0))
    assert Trainer("acc", scenario).step(0, None).loss == expected


def test_accumulation_traces_forward_and_backward_per_micro_batch() -> None:
    """Backward operators are labelled backward: the phases alternate once per micro-batch."""
    tracer = OpTracer("acc")
    scenario = _accumulating()
    tracer.attach(scenario.model)
    try:
        Trainer("acc", scenario).step(0, tracer)
    finally:
        tracer.close()
    phases = [key for key, _ in itertools.groupby(e.phase for e in tracer.entries)]
    assert phases == ["forward", "backward"] * 4 + ["optimizer"]
    backward = [e for e in tracer.entries if e.phase == "backward"]
    assert any("addmm" in e.op or "mm" in e.op for e in backward)


def test_accumulation_rejects_a_batch_that_is_not_n_micro_batches() -> None:
    scenario = _accumulating()
    broken = reprocheck.Scenario(
        model=scenario.model,
        optimizer=scenario.optimizer,
        batch=lambda step: (X, Y),
        loss=_mse,
        micro_batches=4,
    )
    with pytest.raises(ScenarioError, match="list or tuple of 4 micro-batches, got 2 items"):
        Trainer("acc", broken).step(0, None)


def _two_optimizers() -> reprocheck.Scenario:
    model = _model()
    first = torch.optim.SGD(model[0].parameters(), lr=0.1, momentum=0.9)
    second = torch.optim.Adam(
        [{"params": [model[2].weight], "lr": 0.01}, {"params": [model[2].bias], "lr": 0.02}]
    )
    return reprocheck.Scenario(
        model=model, optimizer=[first, second], batch=lambda step: (X, Y), loss=_mse
    )


def test_several_optimizers_are_all_stepped_and_zeroed() -> None:
    scenario = _two_optimizers()
    before = [p.detach().clone() for p in scenario.model.parameters()]
    trainer = Trainer("two", scenario)
    first = trainer.step(0, None)
    after = list(scenario.model.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    assert first.lrs == (0.1, 0.01, 0.02)
    assert first.lr == 0.1
    assert all(p.grad is not None for p in scenario.model.parameters())
    trainer.zero_grad()
    assert all(p.grad is None for p in scenario.model.parameters())


def test_several_optimizers_keep_their_state_under_distinct_keys() -> None:
    scenario = _two_optimizers()
    Trainer("two", scenario).step(0, None)
    tensors = final_tensors(scenario)
    assert "optim/0/0.weight/momentum_buffer" in tensors
    assert "optim/1/2.weight/exp_avg" in tensors
    assert "optim/1/2.bias/exp_avg_sq" in tensors
    assert not any(k.startswith("optim/0.weight") for k in tensors)


def test_one_optimizer_keeps_todays_keys_and_records_every_group_lr() -> None:
    model = _model()
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters()}],
        lr=0.05,
        momentum=0.9,
    )
    scenario = reprocheck.Scenario(
        model=model, optimizer=optimizer, batch=lambda step: (X, Y), loss=_mse
    )
    record = Trainer("one", scenario).step(0, None)
    assert record.lrs == (0.1, 0.05)
    assert "optim/0.weight/momentum_buffer" in final_tensors(scenario)


def test_reduce_lr_on_plateau_is_stepped_with_the_step_loss() -> None:
    """Mode max on a falling loss: the LR halves, and the scheduler saw the recorded loss."""
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=0
    )
    scenario = reprocheck.Scenario(
        model=model, optimizer=optimizer, batch=lambda step: (X, Y), loss=_mse, scheduler=plateau
    )
    trainer = Trainer("plateau", scenario)
    records = [trainer.step(step, None) for step in range(3)]
    assert plateau.best == records[0].loss
    assert records[1].loss < records[0].loss
    assert [r.lr for r in records] == [0.1, 0.1, 0.05]


def test_clip_grad_value_bounds_every_gradient_element() -> None:
    """SGD at LR 1 moves each parameter by its clipped gradient: at most the value."""

    def scenario(clip: float | None) -> reprocheck.Scenario:
        model = _model()
        return reprocheck.Scenario(
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
            batch=lambda step: (X, Y * 100),
            loss=_mse,
            clip_grad_value=clip,
        )

    def largest_move(s: reprocheck.Scenario) -> float:
        before = [p.detach().clone() for p in s.model.parameters()]
        Trainer("clip", s).step(0, None)
        moves = [
            (p.detach() - b).abs().max() for p, b in zip(s.model.parameters(), before, strict=True)
        ]
        return float(max(moves))

    assert largest_move(scenario(None)) > 1e-2
    assert largest_move(scenario(1e-3)) == pytest.approx(1e-3, rel=1e-5)


def _spec(builder: Callable[[ScenarioContext], reprocheck.Scenario]) -> ScenarioSpec:
    return ScenarioSpec(name="t", source="test", builder=builder)


def _ctx() -> ScenarioContext:
    return ScenarioContext(seed=0, steps=1, device="cpu", generator=torch.Generator())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"micro_batches": 0}, "micro_batches is 0"),
        ({"accumulate": "max"}, "accumulate is 'max'"),
        ({"clip_grad_value": -1.0}, "clip_grad_value is -1.0"),
        ({"optimizer": ["sgd"]}, "optimizer is str"),
    ],
)
def test_bad_new_fields_are_scenario_errors(change: dict[str, Any], message: str) -> None:
    def build(ctx: ScenarioContext) -> reprocheck.Scenario:
        model = _model()
        fields: dict[str, Any] = {
            "model": model,
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
            "batch": lambda step: (X, Y),
            "loss": _mse,
        }
        return reprocheck.Scenario(**{**fields, **change})

    with pytest.raises(ScenarioError, match=message):
        _spec(build).create(_ctx())


def test_a_list_of_optimizers_passes_the_checks() -> None:
    assert len(_spec(lambda ctx: _two_optimizers()).create(_ctx()).optimizers) == 2
