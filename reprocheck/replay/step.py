"""One training step and what it leaves behind: the phases, and the record around them.

One step is: fetch the batch and compute the loss (phase ``forward``), ``loss.backward()``
(``backward``), then gradient clipping, ``optimizer.step()`` and the LR scheduler
(``optimizer``). Around the phases :class:`Trainer` records loss, norms and digests; in a
traced step an :class:`~reprocheck.replay.trace.OpTracer` records every aten operator
inside them. The recording only reads tensors: it never changes the numbers.

Sparse gradients (``nn.Embedding(sparse=True)``) are digested coalesced and their norms
are the norms of their coalesced values. The first step where the loss, a gradient or a
parameter holds a NaN or an infinity is kept (:attr:`Trainer.first_nonfinite`) and named
once in a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck._log import log
from reprocheck.errors import ScenarioError
from reprocheck.model.digest import tensor_digest
from reprocheck.model.records import NonFinite, StepRecord
from reprocheck.scenarios import describe_error
from reprocheck.scenarios.api import Scenario

if TYPE_CHECKING:
    import torch

    from reprocheck.replay.distributed import DistSetup
    from reprocheck.replay.trace import OpTracer

__all__ = ["Trainer", "batch_digest", "first_nonfinite", "norm_operands", "phase"]


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
        batch, local, loss = self.forward(step, tracer)
        self.backward(step, tracer, loss)
        lr = float(self.scenario.optimizer.param_groups[0]["lr"])
        # Before the optimizer phase: clipping rescales the gradients in place.
        grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
        grad_digests = {n: tensor_digest(g) for n, g in grads.items()}
        grad_norms = compat.stable_norms(norm_operands(grads.values()))
        grad_norm = _total(grad_norms)
        self.optimize(step, tracer)
        loss_value = float(loss.detach())
        metrics = self._metrics(step, local, loss)
        param_digests = self.param_digests()
        if self.dist is not None:
            loss_value, metrics = self._across_ranks(
                self.dist, step, loss_value, metrics, param_digests
            )
        norms = compat.stable_norms(norm_operands(self.params.values()))
        if self.first_nonfinite is None:
            self._note_nonfinite(step, float(loss.detach()), (grads, grad_norms), norms)
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


def norm_operands(tensors: Any) -> list[torch.Tensor]:
    """What :func:`~reprocheck._compat.torch.stable_norms` takes for these tensors.

    A sparse tensor's norm is its coalesced values' norm (the implicit zeros add nothing).
    """
    import torch

    out = []
    for tensor in tensors:
        t = tensor.detach()
        if t.layout != torch.strided:
            t = (t if t.layout == torch.sparse_coo else t.to_sparse()).coalesce().values()
        out.append(t)
    return out


def first_nonfinite(
    loss: float | None,
    norms: Mapping[str, float],
    tensors: Mapping[str, torch.Tensor],
    prefix: str,
) -> str | None:
    """``"loss"``, or ``prefix + name`` of the first tensor holding a NaN or an infinity.

    A finite tensor's float32 norm can overflow to infinity: a non-finite norm is
    confirmed on the tensor itself before the tensor is named.
    """
    import torch

    if loss is not None and not math.isfinite(loss):
        return "loss"
    for name, norm in norms.items():
        if math.isfinite(norm):
            continue
        values = norm_operands([tensors[name]])[0]
        if not bool(torch.isfinite(values).all()):
            return prefix + name
    return None


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
