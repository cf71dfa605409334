"""``mlp``: linear layers and ReLU trained with SGD.

Small on purpose: every matrix stays below the size at which torch splits a reduction
across threads, so this scenario must stay bitwise identical under thread-count changes.
A difference here points at the maths library or torch itself, not at threading.
"""

from __future__ import annotations

from reprocheck.scenario import Scenario, ScenarioContext

DEFAULT_STEPS = 10
DESCRIPTION = "Linear + ReLU, SGD with momentum; stable under thread changes"

_BATCH, _IN, _HIDDEN, _CLASSES = 512, 32, 256, 10


def build(ctx: ScenarioContext) -> Scenario:
    """Build the scenario (see the module docstring)."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Linear(_IN, _HIDDEN),
        nn.ReLU(),
        nn.Linear(_HIDDEN, _HIDDEN),
        nn.ReLU(),
        nn.Linear(_HIDDEN, _CLASSES),
    ).to(ctx.device)
    x = torch.randn(ctx.steps, _BATCH, _IN, generator=ctx.generator).to(ctx.device)
    y = torch.randint(0, _CLASSES, (ctx.steps, _BATCH), generator=ctx.generator).to(ctx.device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return x[step], y[step]

    def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    return Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        batch=batch,
        loss=loss,
    )
