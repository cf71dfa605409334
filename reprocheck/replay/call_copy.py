"""Keep a copy of one traced call's inputs, to recompute that call (a float64 reference).

``reprocheck check`` replays a scenario here; when the first divergence is a call whose
inputs were equal on both sides but whose output differed, it replays the scenario once
more inside :func:`capturing` and the tracer copies that call's operator and inputs (before
the call: an in-place operator overwrites them). Nothing else changes in the replay.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

__all__ = ["CapturedCall", "capturing", "keep_if_wanted"]


@dataclasses.dataclass
class CapturedCall:
    """The operator and a copy of its arguments (None until the call ran)."""

    step: int
    index: int
    func: Any = None
    args: Any = None
    kwargs: Any = None


_WANTED: list[CapturedCall] = []


@contextlib.contextmanager
def capturing(step: int, index: int) -> Iterator[CapturedCall]:
    """Inside the block, the traced call ``index`` of ``step`` is copied into the result."""
    call = CapturedCall(step, index)
    _WANTED.append(call)
    try:
        yield call
    finally:
        _WANTED.remove(call)


def _copy(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def keep_if_wanted(step: int, index: int, func: Any, args: Any, kwargs: Any) -> None:
    """Called by the tracer before each call: copy it when a :func:`capturing` wants it."""
    for call in _WANTED:
        if call.func is None and (call.step, call.index) == (step, index):
            call.func, call.args, call.kwargs = func, _copy(args), _copy(kwargs)
