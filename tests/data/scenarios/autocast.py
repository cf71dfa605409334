"""A small residual MLP whose forward runs under bfloat16 autocast when AUTOCAST_BF16=1."""

from __future__ import annotations

import os

import torch

import reprocheck


class _Residual(torch.nn.Module):
    def __init__(self, autocast: bool) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 8)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(8, 8)
        self.autocast = autocast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            out = x + self.fc2(self.act(self.fc1(x)))
        return out.float()


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = _Residual(os.environ.get("AUTOCAST_BF16") == "1")
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: x[step],
        loss=lambda model, batch: model(batch).pow(2).mean(),
    )


build.default_steps = 2  # type: ignore[attr-defined]
