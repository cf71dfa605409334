"""A small deterministic scenario written exactly like the docs/scenarios.md example."""

from __future__ import annotations

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    # the engine has already seeded every RNG from ctx.seed
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


build.default_steps = 3  # type: ignore[attr-defined]
