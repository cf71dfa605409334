"""One training step and what it leaves behind: the phases, and the record around them.

One step is: fetch the batch and compute the loss (phase ``forward``), ``loss.backward()``
(``backward``), then gradient clipping, ``optimizer.step()`` and the LR scheduler
(``optimizer``). With ``micro_batches=N`` the forward and backward phases alternate N
times (one per micro-batch) before the one optimizer phase. Around the phases
:class:`Trainer` records loss, norms, digests (buffers too) and every group's LR; in a
traced step an :class:`~reprocheck.replay.trace.OpTracer` records every aten operator
inside them. The recording only reads tensors: it never changes the numbers.

Sparse gradients (``nn.Embedding(sparse=True)``) are digested coalesced and their norms
are the norms of their coalesced values. The first step where the loss, a gradient or a
parameter holds a NaN or an infinity is kept (:attr:`Trainer.first_nonfinite`) and named
once in a warning.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprocheck._log import log
from reprocheck.errors import ScenarioError
from reprocheck.model.digest import tensor_digest
from reprocheck.model.records import NonFinite, StepRecord
from reprocheck.replay.compiled import plain_name
from reprocheck.replay.observe import (
    batch_digest,
    buffer_state,
    digests_and_norms,
    first_nonfinite,
    norm_operands,
)
from reprocheck.scenarios import describe_error
from reprocheck.scenarios.api import Scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.replay.distributed import DistSetup
    from reprocheck.replay.trace import OpTracer

__all__ = [
    "Trainer",
    "batch_digest",
    "buffer_state",
    "digests_and_norms",
    "first_nonfinite",
    "norm_operands",
    "phase",
]


class Trainer:
    """One scenario's training state and the per-step recording around it.

    :meth:`step` is one recorded step. Its phases (:meth:`forward`, :meth:`backward`,
    :meth:`optimize`) also run on their own: the benchmarks time a step without recording.
    """

    def __init__(
        self, name: str, scenario: Scenario, *, dist: DistSetup | None = None, device: str = "cpu"
    ) -> None:
        self.name = name
        self.scenario = scenario
        self.dist = dist
        # Names, digests and final tensors come from the model itself; the loss sees the
        # DDP wrapper, whose forward and backward reduce the gradients across ranks.
        # torch.compile's ``_orig_mod.`` left out: compiled and eager runs compare by name.
        self.params = {plain_name(n): p for n, p in scenario.model.named_parameters()}
        self.buffers = {plain_name(n): b for n, b in scenario.model.named_buffers()}
        self.forward_model = scenario.model
        if dist is not None:
            from reprocheck.replay.distributed import wrap_model

            self.forward_model = wrap_model(scenario.model, dist, device)
        #: Per recorded step of a distributed replay: did every rank agree with rank 0?
        self.agreement: list[bool] = []
        #: The first step where the loss, a gradient or a parameter was non-finite.
        self.first_nonfinite: NonFinite | None = None

    def param_digests(self) -> dict[str, str]:
        return {name: tensor_digest(p) for name, p in self.params.items()}

    def _user_call(self, what: str, step: int, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise ScenarioError(
                f"scenario {self.name!r}: {what} raised at step {step}: {describe_error(exc)}",
                hint="Fix the scenario; call its build, batch and loss directly to debug.",
            ) from exc

    def step(self, step: int, tracer: OpTracer | None) -> StepRecord:
        """Run one training step and return its record."""
        batch, local, loss = self._forward_backward(step, tracer)
        step_loss = float(loss)
        lrs = self.lrs()
        lr = float(self.scenario.optimizers[0].param_groups[0]["lr"])
        # Before the optimizer phase: clipping rescales the gradients in place.
        grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
        grad_digests, grad_norms = digests_and_norms(grads)
        self.optimize(step, tracer, step_loss)
        metrics = self._metrics(step, local, loss)
        param_digests, norms = digests_and_norms(self.params)
        loss_value = step_loss
        if self.dist is not None:
            loss_value, metrics = self._across_ranks(
                self.dist, step, loss_value, metrics, param_digests
            )
        if self.first_nonfinite is None:
            self._note_nonfinite(step, step_loss, (grads, grad_norms), norms)
        buffer_digests, buffer_norms = self.buffer_state()
        return StepRecord(
            step=step,
            loss=loss_value,
            grad_norm=_total(grad_norms),
            param_norm=_total(norms),
            lr=lr,
            batch_digest=batch_digest(batch),
            metrics=metrics,
            param_digests=param_digests,
            grad_digests=grad_digests,
            param_norms=dict(zip(self.params, norms, strict=True)),
            lrs=lrs,
            buffer_digests=buffer_digests,
            buffer_norms=buffer_norms,
        )

    def lrs(self) -> tuple[float, ...]:
        """Every param group's learning rate, optimizer by optimizer (taken before the step)."""
        return tuple(
            float(group["lr"])
            for optimizer in self.scenario.optimizers
            for group in optimizer.param_groups
            if "lr" in group
        )

    def buffer_state(self) -> tuple[dict[str, str], dict[str, float]]:
        """Every buffer's digest, and the norm of every floating one (``buffer_norms``)."""
        return buffer_state(self.buffers)

    def _note_nonfinite(
        self,
        step: int,
        loss: float,
        grads: tuple[dict[str, torch.Tensor], list[float]],
        norms: list[float],
    ) -> None:
        """Keep (and name in a warning) the first non-finite loss, gradient or parameter."""
        what = first_nonfinite(
            loss, dict(zip(grads[0], grads[1], strict=True)), grads[0], "grad of "
        ) or first_nonfinite(None, dict(zip(self.params, norms, strict=True)), self.params, "")
        if what is None:
            return
        self.first_nonfinite = NonFinite(step=step, what=what)
        if self.dist is None or self.dist.rank == 0:
            log(f"{self.name}: {what} non-finite from step {step}", kind="warning")

    def forward(self, step: int, tracer: OpTracer | None) -> tuple[Any, Any, torch.Tensor]:
        """Phase ``forward``: ``(global batch, this rank's batch, loss)``."""
        self.zero_grad()
        with phase(tracer, step, "forward"):
            batch = self.fetch_batch(step, tracer)
            local, loss = self._loss(step, tracer, batch)
        return batch, local, loss

    def fetch_batch(self, step: int, tracer: OpTracer | None) -> Any:
        """The batch, untraced: worker batches arrive in a racy order (see docs/trace.md)."""
        with tracer.paused() if tracer is not None else contextlib.nullcontext():
            return self._user_call("its batch function", step, self.scenario.batch, step)

    def _loss(self, step: int, tracer: OpTracer | None, batch: Any) -> tuple[Any, torch.Tensor]:
        """This rank's part of ``batch`` and the scenario's loss on it."""
        import torch

        local = batch
        if self.dist is not None:
            from reprocheck.replay.distributed import shard_batch

            # The engine's own slicing, not the scenario's computation: left untraced.
            with tracer.paused() if tracer is not None else contextlib.nullcontext():
                local = shard_batch(
                    batch, self.dist.rank, self.dist.world_size, name=self.name, step=step
                )
        loss = self._user_call(
            "its loss function", step, self.scenario.loss, self.forward_model, local
        )
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
            raise ScenarioError(
                f"scenario {self.name!r}: its loss function returned "
                f"{_describe_loss(loss)} at step {step}, expected a scalar tensor with a graph",
                hint="Return the loss tensor itself, before .item() or .detach().",
            )
        return local, loss

    def _forward_backward(
        self, step: int, tracer: OpTracer | None
    ) -> tuple[Any, Any, torch.Tensor]:
        """Forward and backward of the whole step: ``(batch, local batch, step loss)``.

        With ``micro_batches`` the batch and the local batch are lists of micro-batches
        and the step's loss is their mean (or sum) in float64, computed here.
        """
        if self.scenario.micro_batches == 1:
            batch, local, loss = self.forward(step, tracer)
            self.backward(step, tracer, loss)
            return batch, local, loss.detach()
        return self._accumulate(step, tracer)

    def _accumulate(self, step: int, tracer: OpTracer | None) -> tuple[Any, Any, torch.Tensor]:
        """Gradient accumulation: forward and backward once per micro-batch."""
        import torch

        scenario, n = self.scenario, self.scenario.micro_batches
        self.zero_grad()
        with phase(tracer, step, "forward"):
            batch = self.fetch_batch(step, tracer)
        if not isinstance(batch, (list, tuple)) or len(batch) != n:
            got = (
                f"{len(batch)} items" if isinstance(batch, (list, tuple)) else type(batch).__name__
            )
            raise ScenarioError(
                f"scenario {self.name!r}: with micro_batches={n} its batch function must "
                f"return a list or tuple of {n} micro-batches, got {got} at step {step}",
                hint="Return one batch per micro-batch: [batch_0, ..., batch_n-1].",
            )
        locals_, values = [], []
        for part in batch:
            with phase(tracer, step, "forward"):
                local, loss = self._loss(step, tracer, part)
                scaled = loss / n if scenario.accumulate == "mean" else loss
            locals_.append(local)
            values.append(float(loss.detach()))
            self.backward(step, tracer, scaled)
        total = math.fsum(values)
        value = total / n if scenario.accumulate == "mean" else total
        return batch, locals_, torch.tensor(value, dtype=torch.float64)

    def zero_grad(self) -> None:
        """``zero_grad(set_to_none=True)`` on every optimizer."""
        for optimizer in self.scenario.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def backward(self, step: int, tracer: OpTracer | None, loss: torch.Tensor) -> None:
        """Phase ``backward``: ``loss.backward()``."""
        with phase(tracer, step, "backward"):
            self._user_call("backward", step, loss.backward)

    def optimize(self, step: int, tracer: OpTracer | None, loss: float | None = None) -> None:
        """Phase ``optimizer``: gradient clipping, the optimizer steps, the LR schedulers.

        ``loss`` (the step's loss) goes to a ``ReduceLROnPlateau``'s ``step``.
        """
        import torch

        scenario = self.scenario
        with phase(tracer, step, "optimizer"):
            if scenario.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.params.values(), scenario.clip_grad_norm)
            if scenario.clip_grad_value is not None:
                torch.nn.utils.clip_grad_value_(self.params.values(), scenario.clip_grad_value)
            for optimizer in scenario.optimizers:
                self._user_call("the optimizer", step, optimizer.step)
            for scheduler in scenario.schedulers:
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    self._user_call("the LR scheduler", step, scheduler.step, loss)
                else:
                    self._user_call("the LR scheduler", step, scheduler.step)

    def _metrics(self, step: int, local: Any, loss: torch.Tensor) -> dict[str, float]:
        """The scenario's own metrics after the step (none without a metrics function)."""
        import torch

        scenario = self.scenario
        if scenario.metrics is None:
            return {}
        # Metrics observe: no graph, and the loss as a plain value.
        with torch.no_grad():
            found = self._user_call(
                "its metrics function", step, scenario.metrics, scenario.model, local, loss.detach()
            )
        return {str(k): float(v) for k, v in dict(found).items()}

    def _across_ranks(
        self,
        dist: DistSetup,
        step: int,
        loss: float,
        metrics: dict[str, float],
        digests: dict[str, str],
    ) -> tuple[float, dict[str, float]]:
        """Mean loss and metrics over the ranks, and whether every rank agrees with rank 0."""
        from reprocheck.replay import distributed as d

        keys = sorted(metrics)
        per_rank = d.gather_floats([loss, *(metrics[k] for k in keys)], dist, name=self.name)
        means = d.mean_over_ranks(per_rank)
        differ = d.disagreeing_ranks(d.gather_hashes(d.params_hash(digests), dist))
        self.agreement.append(not differ)
        if differ and dist.rank == 0:
            ranks = ", ".join(str(r) for r in differ)
            log(
                f"{self.name}: after step {step} the parameters of rank(s) {ranks} "
                "differ from rank 0's",
                kind="warning",
            )
        return means[0], {k: means[i + 1] for i, k in enumerate(keys)}


def _total(norms: list[float]) -> float:
    return math.sqrt(math.fsum(n * n for n in norms))


def _describe_loss(loss: Any) -> str:
    import torch

    if not isinstance(loss, torch.Tensor):
        return type(loss).__name__
    if loss.numel() != 1:
        return f"a tensor of shape {tuple(loss.shape)}"
    return "a tensor without a graph"


@contextlib.contextmanager
def phase(tracer: OpTracer | None, step: int, phase: str) -> Iterator[None]:
    if tracer is None:
        yield
        return
    with tracer.recording(step, phase):
        yield
