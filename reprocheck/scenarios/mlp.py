"""``mlp``: linear layers and ReLU trained with SGD, accumulating gradients over micro-batches.

Every matrix product is small (at most 512 rows), so on many CPUs the BLAS blocks it the
same way whatever the thread count and this scenario is thread-invariant; on others (AMD
EPYC with MKL, for one) the backward ``mm`` parts by rounding at two threads. That is a
fact about the machine, not a promise of the scenario: compare a 1-thread and a 2-thread
run to see whether yours is. Each step accumulates the loss over ``_MICRO`` micro-batches
of 512, as large-batch training on small devices does; that also gives the step a
realistic amount of work beside the per-step recording of its parameters.
"""

from __future__ import annotations

from reprocheck.scenarios.api import Scenario, ScenarioContext

DEFAULT_STEPS = 10
DESCRIPTION = "Linear + ReLU, SGD with momentum; thread-invariant on many CPUs"

_BATCH, _MICRO, _IN, _HIDDEN, _CLASSES = 512, 4, 32, 256, 10


def build(ctx: ScenarioContext) -> Scenario:
    """Build the scenario (see the module docstring)."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Linear(_IN, _HIDDEN),
        nn.ReLU(),
        nn.Linear(_HIDDEN, _HIDDEN),
        nn.ReLU(),
        nn.Linear(_HIDDEN, _CLASSES),
    ).to(ctx.device)
    x = torch.randn(ctx.steps, _MICRO * _BATCH, _IN, generator=ctx.generator).to(ctx.device)
    y = torch.randint(0, _CLASSES, (ctx.steps, _MICRO * _BATCH), generator=ctx.generator)
    y = y.to(ctx.device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return x[step], y[step]

    def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        # One forward per micro-batch: each matrix product sees 512 rows, never more.
        inputs, targets = torch.split(batch[0], _BATCH), torch.split(batch[1], _BATCH)
        pairs = zip(inputs, targets, strict=True)
        parts = [nn.functional.cross_entropy(model(i), t) for i, t in pairs]
        return torch.stack(parts).mean()

    return Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        batch=batch,
        loss=loss,
    )
