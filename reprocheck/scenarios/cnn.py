"""``cnn``: convolutions, batch norm and pooling trained with Adam.

The convolutions are large enough for oneDNN and ATen to split their work (and the
weight-gradient and batch-norm reductions) across threads, and the batch-norm reductions
are vectorized, so this scenario moves with the thread count (on the CPUs we know of)
and with the CPU dispatch level (``ATEN_CPU_CAPABILITY``), even where ``mlp`` is
thread-invariant.
"""

from __future__ import annotations

from reprocheck.scenarios.api import Scenario, ScenarioContext

DEFAULT_STEPS = 8
DESCRIPTION = "Conv2d + BatchNorm + pooling, Adam; moves with threads and CPU capability"

_BATCH, _CHANNELS, _SIZE, _CLASSES = 16, 3, 32, 10


def build(ctx: ScenarioContext) -> Scenario:
    """Build the scenario (see the module docstring)."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(_CHANNELS, 16, kernel_size=3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (_SIZE // 4) ** 2, _CLASSES),
    ).to(ctx.device)
    x = torch.randn(ctx.steps, _BATCH, _CHANNELS, _SIZE, _SIZE, generator=ctx.generator)
    y = torch.randint(0, _CLASSES, (ctx.steps, _BATCH), generator=ctx.generator)
    x, y = x.to(ctx.device), y.to(ctx.device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return x[step], y[step]

    def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    return Scenario(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
        batch=batch,
        loss=loss,
    )
