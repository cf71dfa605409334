"""Capture one traced operator call: its inputs as they were before it ran, and its outputs.

:class:`CaptureTracer` is an :class:`~reprocheck.replay.trace.OpTracer` that, besides
tracing as usual, copies the arguments of one call (a :class:`CallKey`: the n-th call of
an operator in a module, phase and step) just before the kernel runs (an in-place
operator overwrites them) and its outputs just after.
``reprocheck repro`` replays the baseline's scenario with one to write a standalone
reproduction of the first divergent operator; ``reprocheck check`` replays the candidate's
with one to recompute the call in float64 (:mod:`reprocheck.replay.reference`, through
:meth:`Captured.call`).

Arguments become a JSON tree (:func:`encode_args`): a tensor is ``{"tensor": "t0", "dtype":
..., "shape": ..., "stride": ..., "device": ...}`` whose data, the span of its storage
that its strides reach, is stored as a contiguous tensor named ``t0`` (so the kernel sees
the same strides again, which can choose another code path); a dtype is ``{"dtype":
"float32"}``, likewise ``device``, ``layout`` and ``memory_format``; a non-finite float is
``{"float": "inf"}``; lists and tuples are lists; other plain values are themselves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reprocheck.errors import ScenarioError
from reprocheck.model.trace_entry import TraceEntry
from reprocheck.replay.trace import OpTracer, _mutated, _tensors
from reprocheck.replay.trace_digest import op_info

if TYPE_CHECKING:
    import torch

__all__ = ["CallKey", "CaptureTracer", "Captured", "decode_args", "encode_args", "rng_states"]


@dataclasses.dataclass(frozen=True)
class Captured:
    """One operator call: what it was given and what it gave.

    Attributes:
        op: the overload, as the trace names it (``aten.addmm.default``).
        module: its module path in the trace.
        digest: the trace digest of its outputs in this replay.
        args: the JSON tree of ``(args, kwargs)`` (see the module docstring).
        inputs: the tensors ``args`` names, contiguous, on the CPU.
        outputs: its output tensors in trace order (``o0``, ``o1``...), on the CPU.
        contents: whether the digest covers the outputs' values (False for views and
            uninitialised memory, whose digest covers dtype and shape only).
        mutated: positions of the arguments an in-place operator wrote, when its outputs
            are those arguments (it returned nothing).
    """

    op: str
    module: str
    digest: str
    args: dict[str, Any]
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    contents: bool
    mutated: tuple[tuple[int, str, bool], ...] = ()

    def call(self) -> tuple[Any, list[Any], dict[str, Any]]:
        """The operator and fresh copies of its arguments, to run the call again here."""
        import torch

        namespace, name, overload = self.op.split(".")
        func = getattr(getattr(getattr(torch.ops, namespace), name), overload)
        args = decode_args(self.args["args"], self.inputs)
        kwargs = {k: decode_args(v, self.inputs) for k, v in self.args["kwargs"].items()}
        return func, args, kwargs


@dataclasses.dataclass(frozen=True)
class CallKey:
    """Which call to capture: the ``occurrence``-th call (from 0) of ``op`` in ``module``
    during ``phase`` of ``step``. Unlike a trace index, this survives a torch version
    that adds or drops calls elsewhere (a ``detach`` more in another module)."""

    step: int
    phase: str
    module: str
    op: str
    occurrence: int

    @classmethod
    def of(cls, trace: Sequence[TraceEntry], entry: TraceEntry) -> CallKey:
        """The key of ``entry``, one of ``trace``'s calls."""
        same = (entry.step, entry.phase, entry.module, entry.op)
        earlier = sum(
            1
            for e in trace
            if (e.step, e.phase, e.module, e.op) == same
            and (e.step, e.index) < (entry.step, entry.index)
        )
        return cls(entry.step, entry.phase, entry.module, entry.op, earlier)


class CaptureTracer(OpTracer):
    """An :class:`OpTracer` that also captures the call named by a :class:`CallKey`."""

    def __init__(self, root: str, key: CallKey) -> None:
        super().__init__(root)
        self.key = key
        self.captured: Captured | None = None
        self._seen = 0
        self._pending: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None

    def inputs_of(self, func: Any, args: Any, kwargs: Any) -> Any:
        call = super().inputs_of(func, args, kwargs)
        if call is not None and self.captured is None and self._is_target(func, args, kwargs):
            self._pending = encode_args(args, kwargs)
            self._pending[1].update(rng_states())
        return call

    def _is_target(self, func: Any, args: Any, kwargs: Any) -> bool:
        """Whether this call (about to run, not paused, not skipped) is the key's."""
        key = self.key
        if op_info(func).name != key.op:
            return False
        if self._follow_backward and self._phase == "forward" and self._in_backward():
            self._phase = "backward"
        if (self._step, self._phase) != (key.step, key.phase):
            return False
        if self._module_for(args, kwargs) != key.module:
            return False
        self._seen += 1
        return self._seen - 1 == key.occurrence

    def _record(self, func: Any, args: Any, kwargs: Any, out: Any, call: Any) -> None:
        before = len(self._entries)
        super()._record(func, args, kwargs, out, call)
        pending, self._pending = self._pending, None
        if pending is None or len(self._entries) == before:
            return
        entry = self._entries[-1]
        info = op_info(func)
        tensors = _tensors(out)
        mutated: tuple[tuple[int, str, bool], ...] = ()
        if not tensors and info.mutated:
            tensors, mutated = _tensors(_mutated(info, args, kwargs)), info.mutated
        self.captured = Captured(
            op=entry.op,
            module=entry.module,
            digest=entry.digest,
            args=pending[0],
            inputs=pending[1],
            outputs={
                f"o{i}": t.detach().to("cpu").contiguous().clone() for i, t in enumerate(tensors)
            },
            contents=not (info.view or info.uninitialized),
            mutated=mutated,
        )


def rng_states() -> dict[str, torch.Tensor]:
    """The default generators' states just before the call (``rng_cpu``, ``rng_cuda``).

    A random operator (dropout, an initialiser) draws from them; restored by the script,
    they make it draw what the baseline drew.
    """
    import torch

    states = {"rng_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        states["rng_cuda"] = torch.cuda.get_rng_state()
    return states


def _cpu_copy(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous().clone()


def encode_args(args: Any, kwargs: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``{"args": [...], "kwargs": {...}}`` as a JSON tree, and the tensors it names."""
    tensors: dict[str, torch.Tensor] = {}
    tree = {
        "args": [_encode(a, tensors) for a in args],
        "kwargs": {str(k): _encode(v, tensors) for k, v in kwargs.items()},
    }
    return tree, tensors


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, tensors)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v, tensors) for v in value]
    for kind, cls in (
        ("dtype", torch.dtype),
        ("device", torch.device),
        ("layout", torch.layout),
        ("memory_format", torch.memory_format),
    ):
        if isinstance(value, cls):
            return {kind: str(value).removeprefix("torch.")}
    raise ScenarioError(
        f"cannot write a reproduction: an argument of type {type(value).__name__} cannot be stored",
        hint="repro supports tensors, numbers, strings, dtypes, devices and lists of them.",
    )


def _encode_tensor(t: torch.Tensor, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    import torch

    if t.layout != torch.strided or t.device.type == "meta":
        raise ScenarioError(
            f"cannot write a reproduction: a {t.layout} tensor on {t.device} cannot be stored",
            hint="repro supports dense (strided) tensors.",
        )
    name = f"t{len(tensors)}"
    t = t.detach()
    if t.numel() == 0:
        extent = 0
    else:
        extent = 1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True))
    span = torch.as_strided(t, (extent,), (1,), t.storage_offset())
    tensors[name] = span.to("cpu").clone()
    return {
        "tensor": name,
        "dtype": str(t.dtype).removeprefix("torch."),
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "device": str(t.device),
    }


def decode_args(value: Any, inputs: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`encode_args` for one tree: tensors are fresh CPU copies."""
    import torch

    if isinstance(value, list):
        return [decode_args(v, inputs) for v in value]
    if not isinstance(value, dict):
        return value
    if "tensor" in value:
        span = inputs[value["tensor"]].clone()
        return torch.as_strided(span, value["shape"], value["stride"], 0)
    if "float" in value:
        return float(value["float"])
    kind, name = next(iter(value.items()))  # dtype, device, layout or memory_format
    return torch.device(name) if kind == "device" else getattr(torch, name)
