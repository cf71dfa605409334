"""The operator trace: every aten operator of a traced step, with its module path and phase.

A :class:`OpTracer` observes through a ``TorchDispatchMode``, which sees the operators
*below* autograd, in call order, exactly as the kernels run them: it calls each operator
unchanged and only looks at the result, so tracing never changes the numbers.

Module paths come from two places:

* forward: pre/post hooks on every submodule keep a stack of the modules being run;
* backward: the dispatch mode cannot see modules (autograd runs the graph, not the
  modules), so each module's forward post-hook tags the autograd nodes its forward created
  with its path, innermost module first; during backward the node being run
  (``torch._C._current_autograd_node``, through :mod:`reprocheck._compat.torch`) names it.

Each operator becomes a :class:`~reprocheck.model.records.TraceEntry` with a digest of its outputs
and a few summary numbers; no activation is stored. See ``docs/trace.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as _compat
from reprocheck.model.records import TraceEntry
from reprocheck.replay.compiled import plain_name
from reprocheck.replay.trace_args import describe_args, remember_content
from reprocheck.replay.trace_digest import OpInfo, describe_outputs, op_info

if TYPE_CHECKING:
    import torch

__all__ = ["OpTracer"]

# Key of our tag in an autograd node's ``metadata`` dict: (module path, tick).
_TAG = "reprocheck.module"


class OpTracer:
    """Record each aten operator run inside :meth:`recording` blocks as a ``TraceEntry``.

    Args:
        root: the module-path prefix (the scenario name): the model itself is ``root``,
            its children ``f"{root}.{qualified name}"``.

    Example::

        tracer = OpTracer("mlp")
        tracer.attach(model)
        with tracer.recording(step=0, phase="forward"):
            loss = loss_fn(model, batch)
            tracer.set_phase("backward")
            loss.backward()
        entries = tracer.entries
        tracer.close()
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._entries: list[TraceEntry] = []
        self._counters: dict[int, int] = {}
        self._handles: list[Any] = []
        self._param_module: dict[int, str] = {}
        # One frame per module whose forward is running: (path, tick at its pre-hook,
        # ids of the autograd nodes that produced its inputs).
        self._frames: list[tuple[str, int, frozenset[int]]] = []
        self._tick = 0
        self._step = 0
        self._phase = "init"
        self._active = False
        self._paused = False
        self._follow_backward = False
        self._node_getter: Any = None

    # -- public API -------------------------------------------------------------------

    def attach(self, model: torch.nn.Module) -> None:
        """Hook every submodule of ``model`` so that operators get their module paths."""
        for full_name, module in model.named_modules():
            name = plain_name(full_name)  # torch.compile's wrapper reads as the model
            path = f"{self.root}.{name}" if name else self.root
            self._handles.append(
                module.register_forward_pre_hook(self._pre_hook(path), with_kwargs=True)
            )
            self._handles.append(module.register_forward_hook(self._post_hook(path)))
            for param in module.parameters(recurse=False):
                self._param_module.setdefault(id(param), path)

    @contextlib.contextmanager
    def recording(self, step: int, phase: str, *, follow_backward: bool = False) -> Iterator[None]:
        """Trace every aten operator run inside the block as ``step``, ``phase``.

        Blocks for the same step continue its index; use :meth:`set_phase` inside a block
        to move on to the next phase. With ``follow_backward`` (for code whose
        ``loss.backward()`` call is not ours to wrap), the phase moves from ``forward`` to
        ``backward`` at the first operator the autograd engine runs.
        """
        base = _compat.dispatch_mode_base()
        if self._active:
            raise RuntimeError("OpTracer.recording blocks cannot be nested")
        self._step, self._phase = step, phase
        self._follow_backward = follow_backward
        self._frames.clear()
        self._node_getter = _compat.autograd_node_getter()
        if base is None:  # pragma: no cover - no dispatch modes: an empty trace
            yield
            return
        self._active = True
        try:
            with _mode_class(base)(self):
                yield
        finally:
            self._active = False
            self._frames.clear()

    def set_phase(self, phase: str) -> None:
        """Switch the phase of the operators that follow (inside a recording block)."""
        self._phase = phase

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Leave out the operators run inside the block (e.g. the engine's own digests)."""
        previous, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = previous

    @property
    def entries(self) -> list[TraceEntry]:
        """The operators recorded so far, in call order."""
        return list(self._entries)

    def close(self) -> None:
        """Remove every hook this tracer installed (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # -- module paths -------------------------------------------------------------------

    def _pre_hook(self, path: str) -> Any:
        def hook(module: Any, args: Any, kwargs: Any) -> None:
            if not self._active:
                return
            inputs = frozenset(id(node) for node in _grad_fns((args, kwargs)))
            self._frames.append((path, self._tick, inputs))

        return hook

    def _post_hook(self, path: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            if not self._active or not self._frames:
                return
            # Pop up to this module's frame (a child that raised may have left its own).
            while self._frames:
                frame_path, start, inputs = self._frames.pop()
                if frame_path == path:
                    break
            else:
                return
            self._tick += 1
            self._tag_graph(_grad_fns(output), path, start, inputs)

        return hook

    def _tag_graph(self, roots: list[Any], path: str, start: int, inputs: frozenset[int]) -> None:
        """Tag the autograd nodes created during this module's forward with ``path``.

        Walk back from the outputs. Stop at the nodes that made the module's inputs and at
        nodes tagged before this module started (they belong to earlier modules); walk
        through nodes tagged since (inner modules: they keep their innermost path).
        """
        seen: set[int] = set()
        todo = list(roots)
        while todo:
            node = todo.pop()
            key = id(node)
            if key in seen or key in inputs:
                continue
            seen.add(key)
            metadata = _compat.node_metadata(node)
            if metadata is None:
                continue
            tag = metadata.get(_TAG)
            if tag is None:
                metadata[_TAG] = (path, self._tick)
            elif tag[1] <= start:
                continue
            todo.extend(nxt for nxt, _ in node.next_functions if nxt is not None)

    def _in_backward(self) -> bool:
        return self._node_getter is not None and self._node_getter() is not None

    def _module_for(self, args: Any, kwargs: Any) -> str:
        if self._frames:
            return self._frames[-1][0]
        node = None if self._node_getter is None else self._node_getter()
        if node is not None:
            metadata = _compat.node_metadata(node)
            tag = None if metadata is None else metadata.get(_TAG)
            return "" if tag is None else str(tag[0])
        if self._phase == "optimizer":
            return self._param_owner(args, kwargs)
        return ""

    def _param_owner(self, args: Any, kwargs: Any) -> str:
        # Optimizer operators run on parameters outside any module: name the module that
        # owns them when they all belong to one.
        owners: set[str] = set()
        for arg in (*args, *kwargs.values()):
            for t in arg if isinstance(arg, (list, tuple)) else (arg,):
                owner = self._param_module.get(id(t))
                if owner is not None:
                    owners.add(owner)
        return owners.pop() if len(owners) == 1 else ""

    # -- recording ----------------------------------------------------------------------

    def inputs_of(self, func: Any, args: Any, kwargs: Any) -> Any:
        """What goes in: described *before* the call (an in-place call overwrites it)."""
        info = op_info(func)
        if self._paused or info.skip:
            return None
        return describe_args(func, args, kwargs, info)

    def _record(self, func: Any, args: Any, kwargs: Any, out: Any, call: Any) -> None:
        info = op_info(func)
        if self._paused or info.skip or call is None:
            return
        if self._follow_backward and self._phase == "forward" and self._in_backward():
            self._phase = "backward"
        tensors = _tensors(out)
        if not tensors and info.mutated:
            # In-place operators that return nothing (e.g. ``_foreach_add_``): what they
            # wrote is their output.
            tensors = _tensors(_mutated(info, args, kwargs))
        index = self._counters.get(self._step, 0)
        self._counters[self._step] = index + 1
        shapes = tuple(tuple(t.shape) for t in tensors)
        digest, (absmax, mean, sample) = describe_outputs(
            tensors, shapes, out, info, remember_content
        )
        self._entries.append(
            TraceEntry(
                step=self._step,
                index=index,
                phase=self._phase,
                op=info.name,
                module=self._module_for(args, kwargs),
                shapes=shapes,
                dtypes=tuple(str(t.dtype).removeprefix("torch.") for t in tensors),
                digest=digest,
                absmax=absmax,
                mean=mean,
                sample=sample,
                args=call.args,
                inputs=call.inputs,
                in_dtypes=call.in_dtypes,
            )
        )


_MODE_CLASSES: dict[type[Any], type[Any]] = {}


def _mode_class(base: type[Any]) -> type[Any]:
    """The dispatch mode subclass, made once (``base`` is imported lazily with torch)."""
    cls = _MODE_CLASSES.get(base)
    if cls is None:

        class _TraceMode(base):  # type: ignore[misc]
            def __init__(self, tracer: OpTracer) -> None:
                super().__init__()
                self.tracer = tracer

            def __torch_dispatch__(
                self, func: Any, types: Any, args: Any = (), kwargs: Any = None
            ) -> Any:
                kwargs = kwargs or {}
                # The mode is off while this runs, so the digests below are not traced.
                call = self.tracer.inputs_of(func, args, kwargs)
                out = func(*args, **kwargs)
                self.tracer._record(func, args, kwargs, out, call)
                return out

        cls = _MODE_CLASSES[base] = _TraceMode
    return cls


def _tensors(value: Any) -> list[torch.Tensor]:
    """Tensors in ``value`` (a tensor, or nested tuples/lists/dicts), in order."""
    import torch

    if isinstance(value, torch.Tensor):  # the common cases first: this runs per operator
        return [value]
    if value is None:
        return []
    found: list[torch.Tensor] = []
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            todo.extend(reversed(item))
        elif isinstance(item, dict):
            todo.extend(reversed(list(item.values())))
    return found


def _grad_fns(value: Any) -> list[Any]:
    return [t.grad_fn for t in _tensors(value) if t.grad_fn is not None]


def _mutated(info: OpInfo, args: Any, kwargs: Any) -> list[Any]:
    written = []
    for position, name, kwarg_only in info.mutated:
        if not kwarg_only and position < len(args):
            written.append(args[position])
        elif name in kwargs:
            written.append(kwargs[name])
    return written
