"""The replay of one scenario: build it seeded, train N steps, and write up the record.

Each step is :class:`~reprocheck.replay.step.Trainer`'s (the phases and their recording);
inside the first ``trace_steps`` steps an :class:`~reprocheck.replay.trace.OpTracer`
records every aten operator. The recording only reads tensors: it never changes the numbers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from reprocheck._log import log
from reprocheck.model.records import (
    Compiled,
    NonFinite,
    ScenarioConfig,
    ScenarioRecord,
    StepRecord,
    TensorInfo,
    TraceEntry,
)
from reprocheck.replay.compiled import CompileWatch, plain_name
from reprocheck.replay.seeding import seeded
from reprocheck.replay.step import Trainer, phase
from reprocheck.scenarios import ScenarioSpec
from reprocheck.scenarios.api import Scenario, ScenarioContext

if TYPE_CHECKING:
    import torch

    from reprocheck.replay.distributed import DistSetup
    from reprocheck.replay.options import ReplayOptions
    from reprocheck.replay.trace import OpTracer

__all__ = ["final_tensors", "model_tensors", "replay"]


def replay(
    spec: ScenarioSpec,
    options: ReplayOptions,
    *,
    dist: DistSetup | None = None,
    after_build: Callable[[Scenario], None] | None = None,
    tracer_factory: Callable[[str], OpTracer | None] | None = None,
) -> tuple[ScenarioRecord, dict[str, torch.Tensor]]:
    """Build and train one scenario under :func:`~reprocheck.replay.seeding.seeded`.

    Args:
        spec: the scenario (from :func:`reprocheck.scenarios.load_scenario`).
        options: steps (``None``: the scenario's default), seed, device and traced steps
            (the build and the first ``trace_steps`` steps, operator by operator).
        dist: this rank's place in a distributed replay (the process group must be
            joined already); None for a single-process replay. Every rank calls
            :func:`replay` with the same arguments; rank 0 alone traces operators.
        after_build: called with the built scenario before its first step (calibrate
            moves the initial parameters by one ULP here); None for a plain replay.
        tracer_factory: makes the operator tracer from the scenario name (``repro``
            captures one operator's inputs through an OpTracer subclass); None: the plain one.

    Returns:
        The record and the final tensors (on the CPU), named as in
        :class:`~reprocheck.model.records.ScenarioRecord`; in a distributed replay, this rank's.
    """
    import torch

    n_steps = spec.default_steps if options.steps is None else options.steps
    start = time.perf_counter()
    dtype = getattr(torch, spec.default_dtype) if spec.default_dtype else None
    with seeded(options.seed, device=options.device, default_dtype=dtype) as generator:
        working_dtype = torch.get_default_dtype()
        ctx = ScenarioContext(
            seed=options.seed,
            steps=n_steps,
            device=options.device,
            generator=generator,
            dtype=working_dtype,
            world_size=1 if dist is None else dist.world_size,
            rank=0 if dist is None else dist.rank,
        )
        # The trace is rank 0's: only its record is kept, and tracing never moves numbers.
        traced = options.trace_steps >= 1 and (dist is None or dist.rank == 0)
        tracer = (tracer_factory or _make_tracer)(spec.name) if traced else None
        trained = _train(spec, ctx, tracer, options, dist, after_build=after_build)
    config = ScenarioConfig(
        steps=n_steps,
        seed=options.seed,
        device=options.device,
        dtype=_model_dtype(trained.scenario.model, working_dtype),
        trace_steps=min(options.trace_steps, n_steps) if _tracer_class() is not None else 0,
        world_size=1 if dist is None else dist.world_size,
        backend=None if dist is None else dist.backend,
        bucket_cap_mb=None if dist is None else dist.bucket_cap_mb,
    )
    return trained.record(spec, config, time.perf_counter() - start), trained.tensors


@dataclasses.dataclass(frozen=True)
class _Trained:
    """What training one scenario left behind, before it is written up as a record."""

    scenario: Scenario
    init_digests: dict[str, str]
    steps: tuple[StepRecord, ...]
    trace: tuple[TraceEntry, ...]
    tensors: dict[str, torch.Tensor]
    agreement: tuple[bool, ...]
    first_nonfinite: NonFinite | None = None
    compiled: Compiled | None = None

    def record(self, spec: ScenarioSpec, config: ScenarioConfig, seconds: float) -> ScenarioRecord:
        return ScenarioRecord(
            name=spec.name,
            source=spec.source,
            config=config,
            init_digests=self.init_digests,
            steps=self.steps,
            trace=self.trace,
            tensors={name: _info(t) for name, t in self.tensors.items()},
            modules=tuple(
                f"{spec.name}.{plain_name(name)}" if plain_name(name) else spec.name
                for name, _ in self.scenario.model.named_modules()
                if not name or plain_name(name)  # torch.compile's wrapper is the model
            ),
            duration_s=round(seconds, 6),
            ranks_agree=self.agreement,
            first_nonfinite=self.first_nonfinite,
            compiled=self.compiled,
        )


def _train(
    spec: ScenarioSpec,
    ctx: ScenarioContext,
    tracer: OpTracer | None,
    options: ReplayOptions,
    dist: DistSetup | None,
    *,
    after_build: Callable[[Scenario], None] | None = None,
) -> _Trained:
    """Build the scenario and run its steps, tracing the first ``trace_steps`` of them."""
    try:
        with phase(tracer, 0, "init"):
            scenario = spec.create(ctx)
        if after_build is not None:
            after_build(scenario)
        if tracer is not None:
            tracer.attach(scenario.model)
        loop = Trainer(spec.name, scenario, dist=dist, device=options.device)
        init_digests = loop.param_digests()
        watch = CompileWatch(spec.name, scenario.model)
        last_traced = min(options.trace_steps, ctx.steps) - 1 if tracer is not None else -1
        records = []
        for step in range(ctx.steps):
            log(f"{spec.name}: step {step + 1}/{ctx.steps}", kind="progress")
            records.append(loop.step(step, tracer if step <= last_traced else None))
            if step <= last_traced:
                watch.traced(step, last=step == last_traced)
        return _Trained(
            scenario=scenario,
            init_digests=init_digests,
            steps=tuple(records),
            trace=tuple(tracer.entries) if tracer is not None else (),
            tensors=final_tensors(scenario),
            agreement=tuple(loop.agreement),
            first_nonfinite=loop.first_nonfinite,
            compiled=watch.result(),
        )
    finally:
        if tracer is not None:
            tracer.close()


def final_tensors(scenario: Scenario) -> dict[str, torch.Tensor]:
    """Parameters, buffers and optimizer state, detached copies on the CPU."""
    return model_tensors(scenario.model, scenario.optimizers)


def model_tensors(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None,
) -> dict[str, torch.Tensor]:
    """``model``'s parameters and buffers and ``optimizer``'s state, CPU copies.

    Named as in :class:`~reprocheck.model.records.ScenarioRecord` (``param/...``,
    ``buffer/...``, ``optim/<parameter>/<key>``); no optimizer, no ``optim/`` entries.
    With several optimizers, the state of the i-th is ``optim/<i>/<parameter>/<key>``.
    """
    out: dict[str, torch.Tensor] = {}
    names: dict[int, str] = {}
    for full_name, p in model.named_parameters():
        names[id(p)] = name = plain_name(full_name)
        out[f"param/{name}"] = p
    for name, b in model.named_buffers():
        out[f"buffer/{plain_name(name)}"] = b
    optimizers = [] if optimizer is None else list(_as_sequence(optimizer))
    for o, opt in enumerate(optimizers):
        prefix = "optim/" if len(optimizers) == 1 else f"optim/{o}/"
        for g, group in enumerate(opt.param_groups):
            for i, p in enumerate(group["params"]):
                owner = names.get(id(p), f"group{g}.{i}")
                for key, value in opt.state.get(p, {}).items():
                    tensor = _as_tensor(value)
                    if tensor is not None:
                        out[f"{prefix}{owner}/{key}"] = tensor
    return {k: v.detach().to("cpu").clone() for k, v in out.items()}


def _as_sequence(optimizer: Any) -> Sequence[Any]:
    return optimizer if isinstance(optimizer, (list, tuple)) else (optimizer,)


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
    layout = str(t.layout).removeprefix("torch.")
    return TensorInfo(
        dtype=str(t.dtype).removeprefix("torch."), shape=tuple(t.shape), layout=layout
    )


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
