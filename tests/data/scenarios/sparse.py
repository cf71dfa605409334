"""Sparse gradients: embeddings with ``sparse=True``.

``build``: an ``Embedding(sparse=True)`` and a dense ``Linear`` head, trained by SGD with
momentum (one optimizer: SGD takes sparse and dense gradients alike, and keeps a *sparse*
momentum buffer for the embedding, so the run stores a sparse final tensor).
``adam``: an ``EmbeddingBag(sparse=True)`` alone, trained by ``torch.optim.SparseAdam``.
"""

from __future__ import annotations

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Sequential(torch.nn.Embedding(32, 8, sparse=True), torch.nn.Linear(8, 1))
    idx = torch.randint(0, 32, (ctx.steps, 6), generator=ctx.generator)
    y = torch.randn(ctx.steps, 6, 1, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        batch=lambda step: (idx[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
    )


def adam(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.EmbeddingBag(32, 4, mode="sum", sparse=True)
    idx = torch.randint(0, 32, (ctx.steps, 5, 3), generator=ctx.generator)
    y = torch.randn(ctx.steps, 5, 4, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SparseAdam(list(model.parameters()), lr=0.05),
        batch=lambda step: (idx[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1]),
    )


build.default_steps = 4  # type: ignore[attr-defined]
adam.default_steps = 4  # type: ignore[attr-defined]
