"""A ``DataLoader`` with two workers, iterated inside ``batch(step)``.

``loader:build`` is deterministic: a seeded loader generator, and workers whose own RNG
the loader seeds from it. ``loader:augmented`` adds noise in the workers from the
operating system's entropy: a truly nondeterministic loader, caught as a batch difference.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

import reprocheck


class _Data(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, augment: bool) -> None:
        self.x, self.y, self.augment = x, y, augment

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i] + torch.randn(8) * 0.01  # worker RNG: seeded through the loader
        if self.augment:  # unseeded: a different draw every run
            x = x + random.SystemRandom().random()
        return x, self.y[i]


def _scenario(ctx: reprocheck.ScenarioContext, augment: bool) -> reprocheck.Scenario:
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    data = _Data(torch.randn(64, 8, generator=ctx.generator), torch.randint(0, 2, (64,)), augment)
    loader = DataLoader(
        data, batch_size=4, shuffle=True, num_workers=2, generator=torch.Generator().manual_seed(0)
    )
    batches: list[Any] = []  # the persistent iterator, made at the first step

    def batch(step: int) -> Any:
        if not batches:
            batches.append(iter(loader))
        return next(batches[0])

    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=batch,
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return _scenario(ctx, augment=False)


def augmented(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    return _scenario(ctx, augment=True)


build.default_steps = 2  # type: ignore[attr-defined]
augmented.default_steps = 2  # type: ignore[attr-defined]
