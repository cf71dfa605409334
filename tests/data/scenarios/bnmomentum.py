"""A small conv net with batch norm whose BN momentum comes from ``BN_MOMENTUM``.

The same scenario name with another momentum: the running statistics part at step 0
while the parameters (trained on batch statistics) stay bitwise equal, so compare must
locate the buffer at its step, not at "final": ``BN_MOMENTUM=0.2 reprocheck run ...``.
"""

from __future__ import annotations

import os

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    momentum = float(os.environ.get("BN_MOMENTUM", "0.1"))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, kernel_size=3, padding=1),
        torch.nn.BatchNorm2d(4, momentum=momentum),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 8 * 8, 3),
    )
    x = torch.randn(ctx.steps, 4, 3, 8, 8, generator=ctx.generator)
    y = torch.randint(0, 3, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, b: torch.nn.functional.cross_entropy(model(b[0]), b[1]),
    )


build.default_steps = 3  # type: ignore[attr-defined]
