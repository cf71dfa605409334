"""One training step and what it leaves behind: the phases, and the record around them.

One step is: fetch the batch and compute the loss (phase ``forward``), ``loss.backward()``
(``backward``), then gradient clipping, ``optimizer.step()`` and the LR scheduler
(``optimizer``). Around the phases :class:`Trainer` records loss, norms and digests; in a
traced step an :class:`~reprocheck.replay.trace.OpTracer` records every aten operator
inside them. The recording only reads tensors: it never changes the numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck._log import log
from reprocheck.errors import ScenarioError
from reprocheck.model.digest import tensor_digest
from reprocheck.model.records import StepRecord
from reprocheck.scenarios import describe_error
from reprocheck.scenarios.api import Scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.replay.distributed import DistSetup
    from reprocheck.replay.trace import OpTracer

__all__ = ["Trainer", "batch_digest", "phase"]


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
        self.params = dict(scenario.model.named_parameters())
        self.forward_model = scenario.model
        if dist is not None:
            from reprocheck.replay.distributed import wrap_model

            self.forward_model = wrap_model(scenario.model, dist, device)
        #: Per recorded step of a distributed replay: did every rank agree with rank 0?
        self.agreement: list[bool] = []

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
        batch, local, loss = self.forward(step, tracer)
        self.backward(step, tracer, loss)
        lr = float(self.scenario.optimizer.param_groups[0]["lr"])
        # Before the optimizer phase: clipping rescales the gradients in place.
        grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
        grad_digests = {n: tensor_digest(g) for n, g in grads.items()}
        grad_norm = _total(compat.stable_norms([g.detach() for g in grads.values()]))
        self.optimize(step, tracer)
        loss_value = float(loss.detach())
        metrics = self._metrics(step, local, loss)
        param_digests = self.param_digests()
        if self.dist is not None:
            loss_value, metrics = self._across_ranks(
                self.dist, step, loss_value, metrics, param_digests
            )
        norms = compat.stable_norms([p.detach() for p in self.params.values()])
        return StepRecord(
            step=step,
            loss=loss_value,
            grad_norm=grad_norm,
            param_norm=_total(norms),
            lr=lr,
            batch_digest=batch_digest(batch),
            metrics=metrics,
            param_digests=param_digests,
            grad_digests=grad_digests,
            param_norms=dict(zip(self.params, norms, strict=True)),
        )

    def forward(self, step: int, tracer: OpTracer | None) -> tuple[Any, Any, torch.Tensor]:
        """Phase ``forward``: ``(global batch, this rank's batch, loss)``."""
        import torch

        scenario = self.scenario
        scenario.optimizer.zero_grad(set_to_none=True)
        with phase(tracer, step, "forward"):
            batch = self._user_call("its batch function", step, scenario.batch, step)
            local = batch
            if self.dist is not None:
                from reprocheck.replay.distributed import shard_batch

                # The engine's own slicing, not the scenario's computation: left untraced.
                with tracer.paused() if tracer is not None else contextlib.nullcontext():
                    local = shard_batch(
                        batch, self.dist.rank, self.dist.world_size, name=self.name, step=step
                    )
            loss = self._user_call(
                "its loss function", step, scenario.loss, self.forward_model, local
            )
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
            raise ScenarioError(
                f"scenario {self.name!r}: its loss function returned "
                f"{_describe_loss(loss)} at step {step}, expected a scalar tensor with a graph",
                hint="Return the loss tensor itself, before .item() or .detach().",
            )
        return batch, local, loss

    def backward(self, step: int, tracer: OpTracer | None, loss: torch.Tensor) -> None:
        """Phase ``backward``: ``loss.backward()``."""
        with phase(tracer, step, "backward"):
            self._user_call("backward", step, loss.backward)

    def optimize(self, step: int, tracer: OpTracer | None) -> None:
        """Phase ``optimizer``: gradient clipping, the optimizer step, the LR scheduler."""
        import torch

        scenario = self.scenario
        with phase(tracer, step, "optimizer"):
            if scenario.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.params.values(), scenario.clip_grad_norm)
            self._user_call("the optimizer", step, scenario.optimizer.step)
            if scenario.scheduler is not None:
                self._user_call("the LR scheduler", step, scenario.scheduler.step)

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


def batch_digest(batch: Any) -> str:
    """One digest over every tensor (and plain number) in a batch, in structure order."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    todo = [batch]
    while todo:
        item = todo.pop()
        if isinstance(item, torch.Tensor):
            h.update(tensor_digest(item).encode())
        elif isinstance(item, (list, tuple)):
            h.update(b"(")
            todo.extend(reversed(item))
        elif isinstance(item, dict):
            h.update(b"{")
            for key in reversed(list(item)):
                todo.append(item[key])
                todo.append(str(key))
        elif isinstance(item, (bool, int, float, str)) or item is None:
            h.update(f"{type(item).__name__}:{item!r}|".encode())
        else:
            h.update(f"{type(item).__name__}|".encode())
    return h.hexdigest()


@contextlib.contextmanager
def phase(tracer: OpTracer | None, step: int, phase: str) -> Iterator[None]:
    if tracer is None:
        yield
        return
    with tracer.recording(step, phase):
        yield
