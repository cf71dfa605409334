"""How far each side's output of one call is from a float64 reference of the same call.

Given a captured call (:class:`reprocheck.replay.capture.Captured`) whose inputs were bitwise
equal in both runs, run it again here as it ran (the candidate's output) and with every floating
input in float64 (the reference), and measure each side's largest distance to the
reference relative to the reference's largest magnitude: the candidate over its whole
output, the baseline over the strided sample its trace recorded (the same elements of the
reference, :data:`reprocheck.model.digest.SAMPLE_SIZE` of them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reprocheck.model.digest import SAMPLE_SIZE
from reprocheck.replay.capture import Captured

if TYPE_CHECKING:
    import torch

__all__ = ["reference_distances"]


def _converted(value: Any, dtype: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        copy = value.detach().clone()
        return copy.to(dtype) if dtype is not None and copy.is_floating_point() else copy
    if isinstance(value, (list, tuple)):
        return type(value)(_converted(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _converted(v, dtype) for k, v in value.items()}
    return value


def _first_float(value: Any) -> torch.Tensor | None:
    import torch

    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else None
    if isinstance(value, (list, tuple)):
        return next((t for t in map(_first_float, value) if t is not None), None)
    return None


def _run(call: Captured, dtype: Any) -> torch.Tensor | None:
    import torch

    func, args, kwargs = call.call()
    kwargs = _converted(kwargs, dtype)
    if dtype is not None and getattr(kwargs.get("dtype"), "is_floating_point", False):
        kwargs["dtype"] = dtype  # a factory call (linspace, arange...) made in float64
    previous = torch.get_default_dtype()
    try:
        if dtype is not None:
            torch.set_default_dtype(dtype)  # a factory call left at the default dtype
        out = func(*_converted(args, dtype), **kwargs)
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return None  # an operator without a float64 kernel: no reference
    finally:
        torch.set_default_dtype(previous)
    found = _first_float(out)
    return None if found is None else found.detach().double().reshape(-1).cpu()


def reference_distances(
    call: Captured, baseline_sample: Sequence[float]
) -> dict[str, float] | None:
    """``{"baseline": ..., "candidate": ...}`` relative distances, or None without a reference."""
    import torch

    out = _run(call, None)
    ref = _run(call, torch.float64)
    if out is None or ref is None or out.shape != ref.shape or ref.numel() == 0:
        return None
    scale = float(ref.abs().max())
    if not math.isfinite(scale) or scale == 0:
        return None
    stride = max(1, ref.numel() // SAMPLE_SIZE)
    picked = ref[::stride][:SAMPLE_SIZE].tolist()
    if len(picked) != len(baseline_sample):
        return None
    baseline = max(abs(b - r) for b, r in zip(baseline_sample, picked, strict=True)) / scale
    return {"baseline": baseline, "candidate": float((out - ref).abs().max()) / scale}
