"""A small MLP whose global batch (6 rows) divides among 1, 2 or 3 ranks.

Used to compare DDP bucket sizes: with two ranks every gradient element is one sum
``a + b`` whatever the buckets, so a bucket-size change shows only from three ranks on,
where the ring all-reduce adds each element's three terms in an order that depends on
where the element falls in its bucket.
"""

from __future__ import annotations

import torch

import reprocheck


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU()
    )
    model.append(torch.nn.Linear(64, 4))
    x = torch.randn(ctx.steps, 6, 16, generator=ctx.generator)
    y = torch.randint(0, 4, (ctx.steps, 6), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


build.default_steps = 2  # type: ignore[attr-defined]
