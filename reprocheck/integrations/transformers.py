"""Record a ``transformers.Trainer`` run: ``ReprocheckCallback(out)``.

Example::

    from reprocheck.integrations.transformers import ReprocheckCallback

    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[ReprocheckCallback("runs/a")])
    trainer.train()

A thin adapter over :func:`reprocheck.record`: the recorder opens on the trainer's model
and optimizer at ``on_train_begin``, takes one step at each ``on_step_end`` (after the
optimizer step; with gradient accumulation, once per optimizer step) and writes the run
at ``on_train_end``. The step's loss is the ``loss`` the model returned in training mode
(the mean over the step's micro-batches), as the Trainer itself reads it. transformers is
imported when the callback is constructed (``pip install 'reprocheck[transformers]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.errors import InputError
from reprocheck.integrations._callbacks import RecordingCallback, StepLosses, loss_of

if TYPE_CHECKING:
    import torch

__all__ = ["ReprocheckCallback"]


class ReprocheckCallback(RecordingCallback):
    """A ``transformers.TrainerCallback`` that records the training as a run at ``out``.

    Args:
        out: the run directory to create (as :func:`reprocheck.record`; default
            ``$REPROCHECK_OUT``, which the nox matrix sets for a training command).
        name: the scenario name the run records the training under.
        trace_steps: how many first steps to trace operator by operator (0: none).
        force: replace an existing run at ``out``.

    Raises:
        InputError: transformers is not installed (with the extra to install).
    """

    FRAMEWORK = ("transformers", "TrainerCallback", "transformers")

    def __init__(
        self,
        out: str | Path | None = None,
        *,
        name: str = "train",
        trace_steps: int = 1,
        force: bool = False,
    ) -> None:
        super().__init__(out, name=name, trace_steps=trace_steps, force=force)
        self._losses = StepLosses()
        self._handle: Any = None

    def on_train_begin(
        self,
        args: Any,
        state: Any,
        control: Any,
        model: Any = None,
        optimizer: Any = None,
        **kwargs: Any,
    ) -> None:
        """Open the recorder on the model and (the unwrapped) optimizer."""
        self._finish(failed=True)  # a previous train() that raised left its recorder open
        if model is None:
            raise InputError(
                "on_train_begin got no model", hint="Add the callback to a transformers.Trainer."
            )
        self._open(model, _unwrapped(optimizer))
        self._losses = StepLosses()
        self._handle = model.register_forward_hook(self._on_forward)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Record the step the Trainer just took (optimizer stepped, gradients zeroed)."""
        if self.recorder is None:
            return
        loss = self._losses.take()
        if loss is None:
            self._finish(failed=True)
            raise InputError(
                f"step {state.global_step}: the model returned no loss in training mode",
                hint="Give the model labels so it returns its loss, or record a custom loop "
                "with reprocheck.record(...).",
            )
        self.recorder.step(loss)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Write the run (its final parameters and optimizer state)."""
        self._finish(failed=False)

    def _on_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        loss = loss_of(output) if module.training else None
        if loss is not None:
            self._losses.add(loss)

    def _finish(self, *, failed: bool) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._close(RuntimeError("the training ended early") if failed else None)


def _unwrapped(optimizer: Any) -> Any:
    """The torch optimizer inside accelerate's ``AcceleratedOptimizer`` (or it, or None).

    The wrapper's ``step()`` calls the inner optimizer's, whose step hooks torch runs;
    its state and param groups are the inner one's.
    """
    inner = getattr(optimizer, "optimizer", None)
    return inner if inner is not None and hasattr(inner, "param_groups") else optimizer
