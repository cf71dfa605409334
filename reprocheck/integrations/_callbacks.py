"""What the training-framework callbacks share: a lazily found base class and the step's loss.

``reprocheck.integrations.transformers`` and ``reprocheck.integrations.lightning`` import
their framework only when a callback is constructed, so that importing them (and
reprocheck) never needs the framework; :func:`framework_base` finds the framework's
callback base class then, or says which extra to install.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.errors import InputError

if TYPE_CHECKING:
    import torch

    from reprocheck.workflows.record import Recorder

__all__ = ["RecordingCallback", "StepLosses", "close", "framework_base", "loss_of", "with_base"]


def framework_base(module: str, attr: str, extra: str) -> type:
    """The class ``module.attr`` (the framework's callback base), or an install hint."""
    package = module.split(".", maxsplit=1)[0]
    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        raise InputError(
            f"this callback needs {package}, which is not installed ({exc})",
            hint=f"Install it: pip install 'reprocheck[{extra}]'.",
        ) from exc
    base: type = getattr(found, attr)
    return base


_MIXED: dict[tuple[type, type], type] = {}


def with_base(cls: type, base: type) -> type:
    """``cls`` with the framework's ``base`` mixed in, made once per pair.

    The result subclasses both, so the framework sees its own callback type and
    ``isinstance(callback, cls)`` still holds; ``cls``'s methods come first.
    """
    key = (cls, base)
    if key not in _MIXED:
        _MIXED[key] = type(cls.__name__, (cls, base), {"__module__": cls.__module__})
    return _MIXED[key]


def close(recorder: Recorder, exc: BaseException | None) -> None:
    """Leave the recorder's block: write the run, or (``exc``: why not) write nothing."""
    if exc is None:
        recorder.__exit__(None, None, None)
    else:
        recorder.__exit__(type(exc), exc, exc.__traceback__)


def loss_of(output: Any) -> Any:
    """The loss tensor in a model's or ``training_step``'s output, or None.

    A tensor is the loss itself; a mapping (a dict, a transformers ``ModelOutput``)
    holds it under ``"loss"``; anything else holds none.
    """
    if hasattr(output, "detach"):
        return output
    if isinstance(output, Mapping):
        loss = output.get("loss")
        return loss if hasattr(loss, "detach") or isinstance(loss, (int, float)) else None
    return None


class StepLosses:
    """The losses of one optimizer step's micro-batches; ``float()`` is their mean (or sum).

    The tensors are kept as they are and read only when the recorder takes the step's
    loss, inside its own pause, so reading them adds no operators to the step's trace.
    ``total``: the losses are already divided by the number of micro-batches (Lightning's
    ``outputs["loss"]`` under gradient accumulation), so the step's loss is their sum.
    """

    def __init__(self, *, total: bool = False) -> None:
        self.losses: list[Any] = []
        self.total = total

    def add(self, loss: Any) -> None:
        self.losses.append(loss)

    def take(self) -> StepLosses | None:
        """This step's losses (None when there were none), and start the next step's."""
        if not self.losses:
            return None
        taken = StepLosses(total=self.total)
        taken.losses, self.losses = self.losses, []
        return taken

    def __float__(self) -> float:
        values = [float(v.detach() if hasattr(v, "detach") else v) for v in self.losses]
        return math.fsum(values) if self.total else math.fsum(values) / len(values)


class RecordingCallback:
    """What both callbacks are: settings for :func:`reprocheck.record`, one recorder at a time.

    A subclass names its framework's callback base in ``FRAMEWORK`` (module, class, extra);
    constructing it mixes that base in (:func:`with_base`), or says which extra to install.
    """

    FRAMEWORK: tuple[str, str, str]

    def __new__(cls, *args: Any, **kwargs: Any) -> RecordingCallback:
        made: RecordingCallback = object.__new__(with_base(cls, framework_base(*cls.FRAMEWORK)))
        return made

    def __init__(
        self,
        out: str | Path | None = None,
        *,
        name: str = "train",
        trace_steps: int = 1,
        force: bool = False,
    ) -> None:
        self.out = None if out is None else Path(out)
        self.name, self.trace_steps, self.force = name, trace_steps, force
        self.recorder: Recorder | None = None

    def _open(self, model: torch.nn.Module, optimizer: Any) -> None:
        """Start recording ``model`` (and ``optimizer``) as the settings say."""
        from reprocheck.workflows.record import record

        rec = record(
            self.out,
            model=model,
            optimizer=optimizer,
            name=self.name,
            trace_steps=self.trace_steps,
            force=self.force,
        )
        self.recorder = rec.__enter__()

    def _close(self, exc: BaseException | None) -> None:
        """Write the run (``exc`` None) or nothing; no recorder is open afterwards."""
        rec, self.recorder = self.recorder, None
        if rec is not None:
            close(rec, exc)
