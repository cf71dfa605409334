"""``rnn``: an LSTM with group norm, trained with weight decay, clipping and an LR schedule.

Reaches what the other scenarios do not: recurrent kernels (fused LSTM cells unrolled
over time), group norm, L2 weight decay inside SGD, gradient-norm clipping and a cosine
learning-rate schedule (so the recorded ``lr`` changes every step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprocheck.scenarios.api import Scenario, ScenarioContext

if TYPE_CHECKING:
    import torch

DEFAULT_STEPS = 10
DESCRIPTION = "LSTM + GroupNorm, SGD with weight decay, clipping, cosine LR schedule"

_BATCH, _SEQ, _FEATURES, _HIDDEN, _GROUPS = 64, 32, 16, 32, 4


def _modules() -> type[torch.nn.Module]:
    import torch
    from torch import nn

    class Forecaster(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(_FEATURES, _HIDDEN, num_layers=2, batch_first=True)
            self.norm = nn.GroupNorm(_GROUPS, _HIDDEN)
            self.head = nn.Linear(_HIDDEN, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(x)
            prediction: torch.Tensor = self.head(torch.relu(self.norm(out[:, -1])))
            return prediction

    return Forecaster


def build(ctx: ScenarioContext) -> Scenario:
    """Build the scenario (see the module docstring)."""
    import torch
    from torch import nn

    model = _modules()().to(ctx.device)
    x = torch.randn(ctx.steps, _BATCH, _SEQ, _FEATURES, generator=ctx.generator)
    y = x.sum(dim=(2, 3)).unsqueeze(-1) / _SEQ
    x, y = x.to(ctx.device), y.to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(ctx.steps, 1))

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return x[step], y[step]

    def loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(model(batch[0]), batch[1])

    return Scenario(
        model=model,
        optimizer=optimizer,
        batch=batch,
        loss=loss,
        scheduler=scheduler,
        clip_grad_norm=1.0,
    )
