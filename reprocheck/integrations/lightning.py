"""Record a Lightning ``Trainer.fit`` run: ``ReprocheckCallback(out)``.

Example::

    from reprocheck.integrations.lightning import ReprocheckCallback

    trainer = lightning.Trainer(max_steps=100, callbacks=[ReprocheckCallback("runs/a")])
    trainer.fit(module, loader)

A thin adapter over :func:`reprocheck.record`: the recorder opens on the LightningModule
and its optimizer at ``on_train_start``, takes one step at each ``on_train_batch_end``
after which the optimizer stepped (``trainer.global_step`` moved: with gradient
accumulation, once per optimizer step) and writes the run at ``on_train_end``; an
exception (``on_exception``) leaves no run. The step's loss is the ``loss`` that
``training_step`` returned (with gradient accumulation, the loss Lightning backpropagates:
the mean over the step's batches). Lightning runs forward and
backward inside ``optimizer.step(closure)``, so the gradients and learning rates are taken
at ``on_before_optimizer_step``, once the closure has run. Lightning is imported when
the callback is constructed (``pip install 'reprocheck[lightning]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprocheck.errors import InputError
from reprocheck.integrations._callbacks import RecordingCallback, StepLosses, loss_of

__all__ = ["ReprocheckCallback"]


class ReprocheckCallback(RecordingCallback):
    """A ``lightning.pytorch.Callback`` that records the training as a run at ``out``.

    Args:
        out: the run directory to create (as :func:`reprocheck.record`; default
            ``$REPROCHECK_OUT``, which the nox matrix sets for a training command).
        name: the scenario name the run records the training under.
        trace_steps: how many first steps to trace operator by operator (0: none).
        force: replace an existing run at ``out``.

    Raises:
        InputError: Lightning is not installed (with the extra to install).
    """

    FRAMEWORK = ("lightning.pytorch", "Callback", "lightning")

    def __init__(
        self,
        out: str | Path | None = None,
        *,
        name: str = "train",
        trace_steps: int = 1,
        force: bool = False,
    ) -> None:
        super().__init__(out, name=name, trace_steps=trace_steps, force=force)
        self._losses = StepLosses(total=True)
        self._optimizer: _StepAt | None = None
        self._last_step = 0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Open the recorder on the module and (with exactly one) its optimizer."""
        self._close(RuntimeError("a new training started"))
        optimizers = list(trainer.optimizers)
        self._optimizer = _StepAt(optimizers[0]) if len(optimizers) == 1 else None
        self._open(pl_module, self._optimizer)  # the step-hook protocol suffices
        self._losses = StepLosses(total=True)
        self._last_step = trainer.global_step

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """The closure (forward, backward) has run: take the gradients now."""
        if self._optimizer is not None and self.recorder is not None:
            self._optimizer.stepping()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Record a step when the optimizer stepped in this batch."""
        if self.recorder is None:
            return
        loss = loss_of(outputs)
        if loss is not None:
            self._losses.add(loss)
        if trainer.global_step == self._last_step:
            return  # accumulating gradients: no optimizer step yet
        self._last_step = trainer.global_step
        losses = self._losses.take()
        if losses is None:
            raise InputError(
                f"step {trainer.global_step - 1}: training_step returned no loss",
                hint="Return the loss (or a dict with a 'loss') from training_step.",
            )
        self.recorder.step(losses)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Write the run (its final parameters and optimizer state)."""
        self._close(None)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """The training failed: write no run."""
        self._close(exception)


class _StepAt:
    """The optimizer as the recorder sees it: its step hooks run at ``stepping()``.

    torch runs step pre-hooks before ``step`` calls its closure, which in Lightning holds
    the forward and backward pass; this runs them once the closure has, so the recorder
    takes this step's gradients. State and param groups are the optimizer's own.
    """

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self._hooks: dict[int, Any] = {}

    @property
    def param_groups(self) -> Any:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    def register_step_pre_hook(self, hook: Any) -> _Handle:
        key = len(self._hooks)
        self._hooks[key] = hook
        return _Handle(self._hooks, key)

    def stepping(self) -> None:
        for hook in list(self._hooks.values()):
            hook(self.optimizer, (), {})


class _Handle:
    """Removes one hook, as torch's ``RemovableHandle`` does."""

    def __init__(self, hooks: dict[int, Any], key: int) -> None:
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)
