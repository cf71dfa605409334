"""A scenario that repeats within one process but not across processes (it reads the pid)."""

from __future__ import annotations

import os

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Linear(8, 2)
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    # Changes with every process, never within one.
    shift = float(os.getpid() % 997) / 997.0
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step] + shift, y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


build.default_steps = 2  # type: ignore[attr-defined]
