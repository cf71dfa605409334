"""A scenario that is nondeterministic on purpose: its forward adds unseeded noise."""

from __future__ import annotations

import torch

import reprocheck


class Noisy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 2)
        # Seeded from the operating system's entropy, not from the engine's seed.
        self.noise = torch.Generator()
        self.noise.seed()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x + torch.randn(x.shape, generator=self.noise))


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    model = Noisy()
    x = torch.randn(ctx.steps, 4, 8, generator=ctx.generator)
    y = torch.randint(0, 2, (ctx.steps, 4), generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


build.default_steps = 2  # type: ignore[attr-defined]
