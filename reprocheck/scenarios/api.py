"""The scenario API: what a user's ``build(ctx)`` receives and returns.

A scenario is a small but real training workload. The engine owns the loop (forward,
loss, backward, optimizer step) so that it can record and localize; the scenario only
provides the pieces::

    def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

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
        optimizer: its optimizer, over ``model.parameters()``, or a sequence of optimizers
            (e.g. one per sub-module): each is zero_grad'ed before and stepped after the
            backward pass, in order.
        batch: ``batch(step)`` returns the inputs for that step (any structure of tensors).
            With ``micro_batches=N`` it returns a list or tuple of ``N`` micro-batches.
        loss: ``loss(model, batch)`` runs the forward pass and returns a scalar tensor
            (with ``micro_batches``: of one micro-batch).
        scheduler: an optional LR scheduler (or a sequence of them), stepped after every
            optimizer step; a ``ReduceLROnPlateau`` is stepped with the step's loss.
        clip_grad_norm: clip the gradients' total norm to this before each optimizer step.
        clip_grad_value: clip every gradient element to ``[-v, v]`` before each optimizer
            step (after ``clip_grad_norm`` when both are given).
        metrics: optional ``metrics(model, batch, loss) -> {name: float}`` recorded per step
            (called after the optimizer step, under ``torch.no_grad``, with the loss detached;
            with ``micro_batches``, ``batch`` is the list of micro-batches and ``loss`` the
            step's loss).
        micro_batches: gradient accumulation: how many micro-batches make one step. The
            engine runs forward and backward once per micro-batch, then one optimizer step.
        accumulate: how the micro-batch losses make the step's loss: ``"mean"`` (each
            micro-batch's loss is scaled by ``1/micro_batches`` before its backward pass,
            and the recorded loss is the mean of the micro-batch losses) or ``"sum"`` (no
            scaling; the recorded loss is their sum).
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer]
    batch: Callable[[int], Any]
    loss: Callable[[torch.nn.Module, Any], torch.Tensor]
    scheduler: Any = None
    clip_grad_norm: float | None = None
    metrics: Callable[[torch.nn.Module, Any, torch.Tensor], Mapping[str, float]] | None = None
    clip_grad_value: float | None = None
    micro_batches: int = 1
    accumulate: Literal["mean", "sum"] = "mean"

    @property
    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        """``optimizer`` as a tuple (of one optimizer unless a sequence was given)."""
        return _as_tuple(self.optimizer)

    @property
    def schedulers(self) -> tuple[Any, ...]:
        """``scheduler`` as a tuple (empty without one)."""
        return () if self.scheduler is None else _as_tuple(self.scheduler)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    """``value`` itself in a tuple, or the items of a list or tuple."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)
