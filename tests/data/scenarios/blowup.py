"""A scenario that blows up: SGD at LR 1e6 drives the loss to infinity, then NaN.

``BLOWUP_LR`` (read in ``build``) sets another learning rate, so the same scenario name
also trains healthily: ``BLOWUP_LR=0.1 reprocheck run blowup:build ...``.
"""

from __future__ import annotations

import os

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    lr = float(os.environ.get("BLOWUP_LR", "1e6"))
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randn(ctx.steps, 4, 1, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
    )


build.default_steps = 8  # type: ignore[attr-defined]
