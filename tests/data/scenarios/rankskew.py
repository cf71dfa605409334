"""A planted rank disagreement: every rank steps with its own learning rate.

DDP keeps the gradients equal across ranks, but rank 1 applies them with twice rank 0's
learning rate, so after the first step the ranks hold different parameters. The metric
is the rank itself, so its recorded value is the mean over ranks (0.5 on two ranks).
"""

from __future__ import annotations

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1 * (1 + ctx.rank)),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
        metrics=lambda model, batch, loss: {"rank": float(ctx.rank)},
    )


build.default_steps = 2  # type: ignore[attr-defined]
