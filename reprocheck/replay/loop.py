"""The training loop the engine owns: build, N seeded steps, and what each step leaves behind.

One step is: fetch the batch and compute the loss (phase ``forward``), ``loss.backward()``
(``backward``), then gradient clipping, ``optimizer.step()`` and the LR scheduler
(``optimizer``). Around the phases the loop records loss, norms and digests; inside the
first ``trace_steps`` steps it lets an :class:`~reprocheck.replay.trace.OpTracer` record
every aten operator. The recording only reads tensors: it never changes the numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck._log import log
from reprocheck.errors import InputError, ScenarioError
from reprocheck.model.digest import tensor_digest
from reprocheck.model.records import ScenarioConfig, ScenarioRecord, StepRecord, TensorInfo
from reprocheck.replay.seeding import seeded
from reprocheck.scenarios import ScenarioSpec, describe_error
from reprocheck.scenarios.api import Scenario, ScenarioContext

if TYPE_CHECKING:
    import torch

    from reprocheck.replay.distributed import DistSetup
    from reprocheck.replay.trace import OpTracer

__all__ = ["replay"]


def replay(
    spec: ScenarioSpec,
    *,
    steps: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    trace_steps: int = 1,
    record: bool = True,
    dist: DistSetup | None = None,
) -> tuple[ScenarioRecord, dict[str, torch.Tensor]]:
    """Build and train one scenario under :func:`~reprocheck.replay.seeding.seeded`.

    Args:
        spec: the scenario (from :func:`reprocheck.scenarios.load_scenario`).
        steps: training steps; ``None`` means the scenario's default.
        seed: the one seed for every random source.
        device: ``"cpu"`` or ``"cuda"``.
        trace_steps: trace the build and the first ``trace_steps`` steps operator by
            operator (0: no trace).
        record: record per-step digests and norms (off only to measure their cost).
        dist: this rank's place in a distributed replay (the process group must be
            joined already); None for a single-process replay. Every rank calls
            :func:`replay` with the same arguments; rank 0 alone traces operators.

    Returns:
        The record and the final tensors (on the CPU), named as in
        :class:`~reprocheck.model.records.ScenarioRecord`; in a distributed replay, this rank's.
    """
    import torch

    n_steps = spec.default_steps if steps is None else steps
    if n_steps < 1:
        raise InputError(f"steps must be at least 1, got {n_steps}", hint="Pass --steps 1 or more.")
    if trace_steps < 0:
        raise InputError(
            f"trace steps must be 0 or more, got {trace_steps}",
            hint="Pass --trace-steps 0 or more.",
        )
    start = time.perf_counter()
    dtype = getattr(torch, spec.default_dtype) if spec.default_dtype else None
    with seeded(seed, device=device, default_dtype=dtype) as generator:
        working_dtype = torch.get_default_dtype()
        ctx = ScenarioContext(
            seed=seed,
            steps=n_steps,
            device=device,
            generator=generator,
            dtype=working_dtype,
            world_size=1 if dist is None else dist.world_size,
            rank=0 if dist is None else dist.rank,
        )
        # The trace is rank 0's: only its record is kept, and tracing never moves numbers.
        traced = trace_steps >= 1 and (dist is None or dist.rank == 0)
        tracer = _make_tracer(spec.name) if traced else None
        try:
            with _phase(tracer, 0, "init"):
                scenario = spec.create(ctx)
            if tracer is not None:
                tracer.attach(scenario.model)
            loop = _Loop(spec.name, scenario, record=record, dist=dist, device=device)
            init_digests = loop.param_digests() if record else {}
            records = []
            for step in range(n_steps):
                log(f"{spec.name}: step {step + 1}/{n_steps}", kind="progress")
                step_record = loop.step(step, tracer if step < trace_steps else None)
                if step_record is not None:
                    records.append(step_record)
            tensors = final_tensors(scenario)
            trace = tuple(tracer.entries) if tracer is not None else ()
        finally:
            if tracer is not None:
                tracer.close()
    config = ScenarioConfig(
        steps=n_steps,
        seed=seed,
        device=device,
        dtype=_model_dtype(scenario.model, working_dtype),
        trace_steps=min(trace_steps, n_steps) if _tracer_class() is not None else 0,
        world_size=1 if dist is None else dist.world_size,
        backend=None if dist is None else dist.backend,
        bucket_cap_mb=None if dist is None else dist.bucket_cap_mb,
    )
    result = ScenarioRecord(
        name=spec.name,
        source=spec.source,
        config=config,
        init_digests=init_digests,
        steps=tuple(records),
        trace=trace,
        tensors={name: _info(t) for name, t in tensors.items()},
        modules=tuple(
            f"{spec.name}.{name}" if name else spec.name
            for name, _ in scenario.model.named_modules()
        ),
        duration_s=round(time.perf_counter() - start, 6),
        ranks_agree=tuple(loop.agreement),
    )
    return result, tensors


class _Loop:
    """One scenario's training state and the per-step recording around it."""

    def __init__(
        self,
        name: str,
        scenario: Scenario,
        *,
        record: bool,
        dist: DistSetup | None = None,
        device: str = "cpu",
    ) -> None:
        self.name = name
        self.scenario = scenario
        self.record = record
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

    def step(self, step: int, tracer: OpTracer | None) -> StepRecord | None:
        """Run one training step; return its record (``None`` when not recording)."""
        import torch

        scenario = self.scenario
        scenario.optimizer.zero_grad(set_to_none=True)
        with _phase(tracer, step, "forward"):
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
        with _phase(tracer, step, "backward"):
            self._user_call("backward", step, loss.backward)
        lr = float(scenario.optimizer.param_groups[0]["lr"])
        if self.record:
            # Before the optimizer phase: clipping rescales the gradients in place.
            grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
            grad_digests = {n: tensor_digest(g) for n, g in grads.items()}
            grad_norm = _total(compat.norms_float64([g.detach() for g in grads.values()]))
        with _phase(tracer, step, "optimizer"):
            if scenario.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(self.params.values(), scenario.clip_grad_norm)
            self._user_call("the optimizer", step, scenario.optimizer.step)
            if scenario.scheduler is not None:
                self._user_call("the LR scheduler", step, scenario.scheduler.step)
        if not self.record:
            return None
        metrics: dict[str, float] = {}
        if scenario.metrics is not None:
            # Metrics observe: no graph, and the loss as a plain value.
            with torch.no_grad():
                found = self._user_call(
                    "its metrics function",
                    step,
                    scenario.metrics,
                    scenario.model,
                    local,
                    loss.detach(),
                )
            metrics = {str(k): float(v) for k, v in dict(found).items()}
        loss_value = float(loss.detach())
        param_digests = self.param_digests()
        if self.dist is not None:
            loss_value, metrics = self._across_ranks(
                self.dist, step, loss_value, metrics, param_digests
            )
        norms = compat.norms_float64([p.detach() for p in self.params.values()])
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


def final_tensors(scenario: Scenario) -> dict[str, torch.Tensor]:
    """Parameters, buffers and optimizer state, detached copies on the CPU."""

    out: dict[str, torch.Tensor] = {}
    model = scenario.model
    names: dict[int, str] = {}
    for name, p in model.named_parameters():
        names[id(p)] = name
        out[f"param/{name}"] = p
    for name, b in model.named_buffers():
        out[f"buffer/{name}"] = b
    for g, group in enumerate(scenario.optimizer.param_groups):
        for i, p in enumerate(group["params"]):
            state = scenario.optimizer.state.get(p, {})
            owner = names.get(id(p), f"group{g}.{i}")
            for key, value in state.items():
                tensor = _as_tensor(value)
                if tensor is not None:
                    out[f"optim/{owner}/{key}"] = tensor
    return {k: v.detach().to("cpu").clone() for k, v in out.items()}


def _as_tensor(value: Any) -> torch.Tensor | None:
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, bool):
        return torch.tensor(value)
    if isinstance(value, int):
        return torch.tensor(value, dtype=torch.int64)
    if isinstance(value, float):
        return torch.tensor(value, dtype=torch.float64)
    return None


def _info(t: torch.Tensor) -> TensorInfo:
    return TensorInfo(dtype=str(t.dtype).removeprefix("torch."), shape=tuple(t.shape))


def _model_dtype(model: torch.nn.Module, fallback: torch.dtype) -> str:
    for p in model.parameters():
        if p.is_floating_point():
            return str(p.dtype).removeprefix("torch.")
    return str(fallback).removeprefix("torch.")


def _tracer_class() -> type[OpTracer] | None:
    try:
        from reprocheck.replay.trace import OpTracer
    except ImportError:  # the tracer is optional: without it the trace stays empty
        return None
    return OpTracer


def _make_tracer(root: str) -> OpTracer | None:
    cls = _tracer_class()
    return None if cls is None else cls(root)


@contextlib.contextmanager
def _phase(tracer: OpTracer | None, step: int, phase: str) -> Iterator[None]:
    if tracer is None:
        yield
        return
    with tracer.recording(step, phase):
        yield
