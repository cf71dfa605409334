"""The scenario API: what a user's ``build(ctx)`` receives and returns.

A scenario is a small but real training workload. The engine owns the loop (forward,
loss, backward, optimizer step) so that it can record and localize; the scenario only
provides the pieces::

    def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["Scenario", "ScenarioContext"]


@dataclasses.dataclass(frozen=True)
class ScenarioContext:
    """What the engine hands to a scenario's ``build`` function.

    Attributes:
        seed: the run's seed; the engine has already seeded every RNG from it.
        steps: how many training steps the engine will run (size your data for it).
        device: ``"cpu"`` or ``"cuda"``; put the model and data there.
        generator: a ``torch.Generator`` on the CPU seeded from ``seed``, for data.
        dtype: the floating dtype the scenario should use (``torch.float32`` by default).
        world_size: how many ranks train together (1 unless ``--world-size`` says more).
            Build the same model and the same *global* batches on every rank: the engine
            gives each rank its slice of ``batch(step)`` (docs/distributed.md).
        rank: this process's rank, 0 to ``world_size - 1``.
    """

    seed: int
    steps: int
    device: str
    generator: torch.Generator
    dtype: torch.dtype | None = None
    world_size: int = 1
    rank: int = 0


@dataclasses.dataclass(frozen=True)
class Scenario:
    """The pieces of one training workload.

    Attributes:
        model: the module to train.
        optimizer: its optimizer, over ``model.parameters()``.
        batch: ``batch(step)`` returns the inputs for that step (any structure of tensors).
        loss: ``loss(model, batch)`` runs the forward pass and returns a scalar tensor.
        scheduler: an optional LR scheduler, stepped after every optimizer step.
        clip_grad_norm: clip the gradients' total norm to this before each optimizer step.
        metrics: optional ``metrics(model, batch, loss) -> {name: float}`` recorded per step
            (called after the optimizer step, under ``torch.no_grad``, with the loss detached).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batch: Callable[[int], Any]
    loss: Callable[[torch.nn.Module, Any], torch.Tensor]
    scheduler: Any = None
    clip_grad_norm: float | None = None
    metrics: Callable[[torch.nn.Module, Any, torch.Tensor], Mapping[str, float]] | None = None
