"""Record your own training loop as an ordinary run: ``reprocheck.record(...)``.

Example::

    import reprocheck

    reprocheck.seed_everything(0)
    with reprocheck.record("runs/a", model=model, optimizer=optimizer) as rec:
        for x, y in batches:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            rec.step(loss, accuracy=acc)  # after the optimizer step

The run holds one scenario (``name``, default ``"train"``) and reads like one written by
``reprocheck run``: ``compare``, ``report`` and :func:`reprocheck.load_run` take it. What
is recorded when (docs/how-to/record-your-loop.md):

* at ``__enter__``: the fingerprint and the parameters' digests (``init_digests``);
* at each ``optimizer.step()`` (a step pre-hook, so before the step changes anything):
  every gradient's digest and norm and every param group's learning rate; without an
  optimizer, or a step without ``optimizer.step()``, the gradients still present at
  :meth:`Recorder.step` are taken instead, and ``lr`` is 0.0;
* at every call of ``model(...)``: a digest of its inputs (the step's ``batch_digest``);
* at :meth:`Recorder.step`: the loss, your metrics, the parameters' and buffers' digests
  and norms;
* in the first ``trace_steps`` steps: every aten operator from the end of the previous
  step (or ``__enter__``) to :meth:`Recorder.step`: phase ``forward``, then ``backward``
  from the first operator the autograd engine runs, then ``optimizer`` at the step;
* on a clean exit of the block: the final parameters, buffers and optimizer state, and
  the run is moved into place. An exception in the block leaves no run.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprocheck.errors import InputError
from reprocheck.model.digest import dtype_name, tensor_digest
from reprocheck.model.records import (
    RECORDED_SOURCE,
    NonFinite,
    ScenarioConfig,
    ScenarioRecord,
    StepRecord,
    TensorInfo,
)
from reprocheck.replay.compiled import CompileWatch, plain_name
from reprocheck.replay.step import batch_digest, buffer_state, digests_and_norms, first_nonfinite
from reprocheck.workflows.seeding import last_seed

if TYPE_CHECKING:
    import torch

    from reprocheck.artifacts.run_writer import RunWriter
    from reprocheck.replay.trace import OpTracer

__all__ = ["OUT_ENV", "SOURCE", "Recorder", "record"]

#: The ``source`` of a recorded scenario: it was not replayed from a scenario function.
SOURCE = RECORDED_SOURCE
#: Where :func:`record` writes when not given ``out``: the nox matrix sets it to
#: ``runs/<env>`` for the training command it runs in each environment.
OUT_ENV = "REPROCHECK_OUT"


def record(
    out: str | Path | None = None,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    name: str = "train",
    trace_steps: int = 1,
    force: bool = False,
) -> Recorder:
    """Record the training loop run inside the returned context manager as a run at ``out``.

    Args:
        out: the run directory to create (must not exist or be empty unless ``force``);
            default ``$REPROCHECK_OUT`` (set by ``reprocheck.nox.matrix(command=...)``).
            A URL (``s3://bucket/runs/a``, with ``reprocheck[remote]``) is written
            locally and uploaded when the block ends, its manifest last.
        model: the model being trained (its parameters, buffers and module paths).
        optimizer: its optimizer: gradients and learning rates are taken just before each
            ``optimizer.step()``, and its state is saved at the end.
        name: the scenario name the run records the loop under.
        trace_steps: how many first steps to trace operator by operator (0: none).
        force: replace an existing run at ``out``.

    Returns:
        A :class:`Recorder`; call its :meth:`~Recorder.step` once per training step.

    Raises:
        InputError: a bad ``name`` or ``trace_steps``, or no ``out`` and no
            ``$REPROCHECK_OUT`` (at once), an ``out`` no run can be written to (on entering
            the block), a block left without any step recorded.
    """
    if out is None:
        out = os.environ.get(OUT_ENV) or None
    if out is None:
        raise InputError(
            f"record: no run directory: give `out` or set ${OUT_ENV}",
            hint='Call reprocheck.record("runs/a", model=...), or set REPROCHECK_OUT=runs/a.',
            field="out",
        )
    if not _non_empty(name):
        raise InputError(
            f"name must be a non-empty string, got {name!r}",
            hint='Name the loop, e.g. name="train".',
            field="name",
        )
    if not _is_count(trace_steps):
        raise InputError(
            f"trace_steps must be a whole number >= 0, got {trace_steps!r}",
            hint="Give trace_steps 0 (no trace), 1 (the default) or more.",
            field="trace_steps",
        )
    from reprocheck.artifacts.remote import is_url

    where: Path | str = out if is_url(out) else Path(out)  # a URL: uploaded when complete
    return Recorder(where, model, optimizer, name=name, trace_steps=trace_steps, force=force)


class _StepState:
    """What the hooks saw during the current step."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.taken = False  # were the gradients taken (at optimizer.step())?
        self.grad_digests: dict[str, str] = {}
        self.grad_norms: list[float] = []
        self.grad_nonfinite: str | None = None
        self.lrs: tuple[float, ...] = ()


class Recorder:
    """The context manager :func:`record` returns: one training loop into one run."""

    def __init__(
        self,
        out: Path | str,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None,
        *,
        name: str,
        trace_steps: int,
        force: bool,
    ) -> None:
        self.out, self.model, self.optimizer, self.name = out, model, optimizer, name
        self.trace_steps, self.force = trace_steps, force
        self.params: dict[str, torch.Tensor] = {
            plain_name(n): p for n, p in model.named_parameters()
        }
        self._buffers = {plain_name(n): b for n, b in model.named_buffers()}
        self._compile: CompileWatch | None = None
        self._steps: list[StepRecord] = []
        self._state = _StepState()
        self._writer: RunWriter | None = None
        self._stage = contextlib.ExitStack()
        self._tracer: OpTracer | None = None
        self._block = contextlib.ExitStack()
        self._handles: list[Any] = []
        self._init_digests: dict[str, str] = {}
        self._nonfinite: NonFinite | None = None
        self._start = 0.0
        self._used = False

    @property
    def steps(self) -> tuple[StepRecord, ...]:
        """The steps recorded so far."""
        return tuple(self._steps)

    # -- the block ----------------------------------------------------------------------

    def __enter__(self) -> Recorder:
        from reprocheck.artifacts.remote import staged_run
        from reprocheck.artifacts.run_writer import RunWriter
        from reprocheck.env import fingerprint

        if self._used:
            raise InputError(
                "a recorder records one block only", hint="Call reprocheck.record(...) again."
            )
        self._used = True
        fp = fingerprint().to_dict()
        # A URL's run is written here first and uploaded as the block ends (_stage).
        target = self._stage.enter_context(staged_run(self.out, force=self.force))
        self._writer = RunWriter(target, fingerprint=fp, force=self.force, command=sys.argv)
        self._start = time.perf_counter()
        self._init_digests = self._param_digests()
        self._compile = CompileWatch(self.name, self.model)
        self._handles.append(
            self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True)
        )
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._on_optimizer_step))
        if self.trace_steps >= 1:
            self._tracer = _make_tracer(self.name)
            if self._tracer is not None:
                self._tracer.attach(self.model)
        self._start_trace(0)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        with self._stage:  # uploads a URL's run once committed; nothing after an error
            try:
                self._block.__exit__(exc_type, exc, tb)
            finally:
                self._remove_hooks()
            if exc_type is not None:
                writer.abort()
                return
            try:
                self._commit(writer)
            except BaseException:
                writer.abort()
                raise

    def step(self, loss: Any, **metrics: Any) -> StepRecord:
        """Record the step just taken: call it after ``optimizer.step()``, once per step.

        Args:
            loss: the step's loss (a tensor or a number).
            **metrics: other numbers to record, by name (tensors of one element or numbers).

        Returns:
            The step's record, as the run will hold it.
        """
        if self._writer is None:
            raise InputError(
                "rec.step() was called outside its `with reprocheck.record(...)` block",
                hint="Call rec.step(loss) inside the with block, after optimizer.step().",
            )
        self._block.close()  # the user's step is over: stop tracing it
        index = len(self._steps)
        if self._tracer is not None and index < self.trace_steps and self._compile is not None:
            # dynamo skipped the compiled model under the trace: compile it from here on
            self._compile.traced(index, last=index == self.trace_steps - 1)
        with self._paused():
            self._steps.append(self._record_step(index, loss, metrics))
        self._start_trace(index + 1)
        return self._steps[-1]

    # -- what is recorded ----------------------------------------------------------------

    def _record_step(self, index: int, loss: Any, metrics: dict[str, Any]) -> StepRecord:
        state, self._state = self._state, _StepState()
        if not state.taken:  # no optimizer.step() seen: the gradients left now
            self._take_grads(state)
        loss_value = _number(loss)
        digests, norms = digests_and_norms(self.params)
        if self._nonfinite is None:
            norm_of = dict(zip(self.params, norms, strict=True))
            what = (
                first_nonfinite(loss_value, {}, {}, "")
                or state.grad_nonfinite
                or first_nonfinite(None, norm_of, self.params, "")
            )
            self._nonfinite = None if what is None else NonFinite(step=index, what=what)
        buffer_digests, buffer_norms = buffer_state(self._buffers)
        return StepRecord(
            step=index,
            loss=loss_value,
            grad_norm=math.sqrt(math.fsum(n * n for n in state.grad_norms)),
            param_norm=math.sqrt(math.fsum(n * n for n in norms)),
            lr=state.lrs[0] if state.lrs else 0.0,
            batch_digest=batch_digest(state.inputs),
            metrics={str(k): _number(v) for k, v in metrics.items()},
            param_digests=digests,
            grad_digests=state.grad_digests,
            param_norms=dict(zip(self.params, norms, strict=True)),
            lrs=state.lrs,
            buffer_digests=buffer_digests,
            buffer_norms=buffer_norms,
        )

    def _take_grads(self, state: _StepState) -> None:
        grads = {n: p.grad for n, p in self.params.items() if p.grad is not None}
        state.taken = True
        state.grad_digests, state.grad_norms = digests_and_norms(grads)
        norm_of = dict(zip(grads, state.grad_norms, strict=True))
        state.grad_nonfinite = first_nonfinite(None, norm_of, grads, "grad of ")
        if self.optimizer is not None:
            state.lrs = tuple(float(g["lr"]) for g in self.optimizer.param_groups if "lr" in g)

    def _on_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        with self._paused():
            self._take_grads(self._state)
        if self._tracer is not None:
            self._tracer.set_phase("optimizer")

    def _on_forward(self, module: Any, args: Any, kwargs: Any) -> None:
        with self._paused():
            self._state.inputs.append(batch_digest((args, kwargs)))

    def _param_digests(self) -> dict[str, str]:
        return {name: tensor_digest(p) for name, p in self.params.items()}

    # -- tracing and writing -------------------------------------------------------------

    def _start_trace(self, index: int) -> None:
        if self._tracer is not None and index < self.trace_steps:
            self._block.enter_context(
                self._tracer.recording(index, "forward", follow_backward=True)
            )

    def _paused(self) -> contextlib.AbstractContextManager[None]:
        return self._tracer.paused() if self._tracer is not None else contextlib.nullcontext()

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._tracer is not None:
            self._tracer.close()

    def _commit(self, writer: RunWriter) -> None:
        from reprocheck.replay.loop import model_tensors

        if not self._steps:
            raise InputError(
                f"record {self.name!r}: the block ended without any step recorded",
                hint="Call rec.step(loss) after each optimizer.step() inside the block.",
            )
        tensors = model_tensors(self.model, self.optimizer)
        writer.add(self._scenario_record(tensors), tensors)
        writer.commit()

    def _scenario_record(self, tensors: dict[str, torch.Tensor]) -> ScenarioRecord:
        import torch

        first = next((p for p in self.params.values() if p.is_floating_point()), None)
        dtype = torch.get_default_dtype() if first is None else first.dtype
        device = next((p.device.type for p in self.params.values()), "cpu")
        traced = 0 if self._tracer is None else min(self.trace_steps, len(self._steps))
        seed = last_seed()
        config = ScenarioConfig(
            steps=len(self._steps),
            seed=0 if seed is None else seed,
            device=device,
            dtype=dtype_name(dtype),
            trace_steps=traced,
        )
        return ScenarioRecord(
            name=self.name,
            source=SOURCE,
            config=config,
            init_digests=self._init_digests,
            steps=tuple(self._steps),
            trace=() if self._tracer is None else tuple(self._tracer.entries),
            tensors={k: _info(t) for k, t in tensors.items()},
            modules=tuple(
                f"{self.name}.{plain_name(m)}" if plain_name(m) else self.name
                for m, _ in self.model.named_modules()
                if not m or plain_name(m)  # torch.compile's wrapper is the model
            ),
            duration_s=round(time.perf_counter() - self._start, 6),
            first_nonfinite=self._nonfinite,
            compiled=None if self._compile is None else self._compile.result(),
        )


def _non_empty(name: object) -> bool:
    return isinstance(name, str) and bool(name.strip())


def _number(value: Any) -> float:
    """A loss or metric as a float: a one-element tensor (detached) or a number."""
    return float(value.detach() if hasattr(value, "detach") else value)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _info(t: torch.Tensor) -> TensorInfo:
    layout = str(t.layout).removeprefix("torch.")
    return TensorInfo(dtype=dtype_name(t.dtype), shape=tuple(t.shape), layout=layout)


def _make_tracer(root: str) -> OpTracer | None:
    try:
        from reprocheck.replay.trace import OpTracer
    except ImportError:  # the tracer is optional: without it the trace stays empty
        return None
    return OpTracer(root)
