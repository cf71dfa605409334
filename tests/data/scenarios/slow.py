"""A deterministic scenario that takes a known while: each batch waits SLOW_SECONDS (1 s).

Used to see *when* a command reports a scenario: a line printed as soon as the scenario
before this one finished arrives seconds before the command ends.
"""

from __future__ import annotations

import os
import time

import torch

import reprocheck

SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "1"))


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Linear(4, 2)
    x = torch.randn(ctx.steps, 3, 4, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 3), generator=ctx.generator)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        time.sleep(SLOW_SECONDS)
        return x[step], y[step]

    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=batch,
        loss=lambda model, b: torch.nn.functional.cross_entropy(model(b[0]), b[1]),
    )


build.default_steps = 3  # type: ignore[attr-defined]
