"""A small transformer classifier, and the reprocheck scenario that trains it.

``reprocheck run mymodel:build`` replays a few seeded training steps of it; the tests use
:class:`Classifier` directly as well.
"""

from __future__ import annotations

import torch

import reprocheck

FEATURES, CLASSES, SEQ, BATCH = 32, 4, 16, 8


class Classifier(torch.nn.Module):
    """Sequences of feature vectors -> class logits: encoder, mean pooling, linear head."""

    def __init__(self, dim: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(FEATURES, dim)
        layer = torch.nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=0.1, batch_first=True
        )
        # The nested-tensor fast path only applies in eval mode with padding masks.
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(dim, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(x))
        logits: torch.Tensor = self.head(hidden.mean(dim=1))
        return logits


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    """Train the classifier with AdamW on seeded random sequences."""
    # the engine has already seeded every RNG from ctx.seed
    model = Classifier().to(ctx.device)
    x = torch.randn(ctx.steps, BATCH, SEQ, FEATURES, generator=ctx.generator).to(ctx.device)
    y = torch.randint(0, CLASSES, (ctx.steps, BATCH), generator=ctx.generator).to(ctx.device)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3),
        batch=lambda step: (x[step], y[step]),
        loss=lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
    )


# How many steps `reprocheck run mymodel:build` replays when --steps is not given.
build.default_steps = 5  # type: ignore[attr-defined]
