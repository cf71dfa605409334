"""The tiny MLP under ``torch.compile`` (inductor on the CPU), and the same model eager.

``compiled:build`` and ``compiled:eager`` build the same seeded model; only the first is
wrapped by ``torch.compile``, so the two runs compare parameter by parameter.
"""

from __future__ import annotations

import torch

import reprocheck


def _scenario(ctx: reprocheck.ScenarioContext, compile_it: bool) -> reprocheck.Scenario:
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return reprocheck.Scenario(
        model=torch.compile(model, backend="inductor") if compile_it else model,
        optimizer=optimizer,
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return _scenario(ctx, compile_it=True)


def eager(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return _scenario(ctx, compile_it=False)


build.default_steps = 3  # type: ignore[attr-defined]
eager.default_steps = 3  # type: ignore[attr-defined]
