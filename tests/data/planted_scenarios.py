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
