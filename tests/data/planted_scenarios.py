"""Copies of the built-in ``transformer`` scenario, each with one planted change.

Built through the scenario API (reprocheck.scenarios.transformer.build), then changed in
one place, so that compare of a copy against the original (``--pair``) must name that
change: ``eps`` (LayerNorm eps 1e-5 → 1e-6 in ``ln1``), ``gelu_tanh`` (the MLP's GELU
with ``approximate='tanh'``), ``bf16_linear`` (the MLP's first Linear under bfloat16
autocast), ``dropout_p`` (Dropout p 0.1 → 0.11), ``shuffled`` (the batches in another
order), ``lr`` (AdamW's learning rate 1e-3 → 2e-3) and ``same`` (no change at all).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

import reprocheck
from reprocheck.scenarios import transformer


def _base(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return transformer.build(ctx)


def same(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return _base(ctx)


def eps(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    scenario.model.ln1.eps = 1e-6  # type: ignore[union-attr]
    return scenario


def gelu_tanh(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    scenario.model.mlp[1].approximate = "tanh"  # type: ignore[index]
    return scenario


def dropout_p(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    scenario.model.dropout.p = 0.11  # type: ignore[union-attr]
    return scenario


def bf16_linear(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    linear: Any = scenario.model.mlp[0]  # type: ignore[index]
    plain = linear.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out: torch.Tensor = plain(x)
        return out.float()

    linear.forward = forward
    return scenario


def shuffled(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    batch = scenario.batch
    return dataclasses.replace(scenario, batch=lambda step: batch(ctx.steps - 1 - step))


def lr(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    scenario = _base(ctx)
    for group in scenario.optimizers[0].param_groups:
        group["lr"] = 2e-3
    return scenario


for _build in (same, eps, gelu_tanh, dropout_p, bf16_linear, shuffled, lr):
    _build.default_steps = 2  # type: ignore[attr-defined]


def fixed(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    """A small MLP with no random draw at all (parameters and data from ``sin``/``cos``):
    what moves its numbers is a kernel, never a random stream."""
    torch.manual_seed(0)

    def param(*shape: int, phase: float) -> torch.nn.Parameter:
        n = 1
        for d in shape:
            n *= d
        return torch.nn.Parameter(torch.linspace(0, 40, n).add(phase).sin().mul(0.3).reshape(shape))

    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1, self.b1 = param(256, 64, phase=0.1), param(256, phase=0.2)
            self.w2, self.b2 = param(8, 256, phase=0.3), param(8, phase=0.4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.nn.functional.gelu(torch.nn.functional.linear(x, self.w1, self.b1))
            return torch.nn.functional.linear(torch.tanh(h), self.w2, self.b2)

    model = Fixed()
    data = torch.linspace(0, 100, ctx.steps * 512 * 64).cos().reshape(ctx.steps, 512, 64)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
        batch=lambda step: data[step],
        loss=lambda model, batch: model(batch).pow(2).mean(),
    )


fixed.default_steps = 2  # type: ignore[attr-defined]
