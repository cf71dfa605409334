"""What the operator trace keeps of each call's inputs: its arguments and input digests.

Per traced call, beside the digest of its outputs (:mod:`reprocheck.replay.trace_digest`):

* every non-tensor argument by its schema name (``eps``, ``approximate``, ``p``, a
  ``dtype``, a shape), arguments left at their default filled in from the schema, as
  compact JSON values: compare names the arguments that changed;
* one digest of all tensor inputs together (dtype, shape and a CRC of the bytes, a strided
  subset plus min and max for large floating inputs, as for outputs), and their dtypes:
  compare tells "equal inputs, other output" (the kernel itself changed) from a call that
  only passes on a difference made upstream.

A random operator's in-place target and an ``out=`` argument are digested by dtype and
shape only: their bytes are overwritten, and are often uninitialised memory. So are the
inputs of a view (``t``, ``view``, ``expand``...): it computes nothing, and its output is
digested by dtype and shape too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import struct
import weakref
from typing import TYPE_CHECKING, Any

from reprocheck._compat.ops import op_arguments, tensor_version
from reprocheck.replay.trace_digest import EXACT_BYTES, SUBSET_ELEMENTS, OpInfo

if TYPE_CHECKING:
    import torch

__all__ = ["CallArgs", "describe_args", "jsonable", "remember_content"]

_SPECS: dict[Any, tuple[tuple[str, bool, bool, Any], ...]] = {}
_NO_CONTENT = "shape-only"
# Content digests of tensors seen as inputs, by object: (the tensor, its version counter,
# the digest). A parameter or an activation read by several calls is digested once; a
# weak reference makes sure the entry is the same live tensor, unchanged since.
_SEEN: dict[int, tuple[Any, int, bytes]] = {}
_SEEN_MAX = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class CallArgs:
    """One call's non-tensor arguments, the digest of its tensor inputs, and their dtypes."""

    args: dict[str, Any]
    inputs: str
    in_dtypes: tuple[str, ...]


def jsonable(value: Any) -> Any:
    """A compact JSON value for a non-tensor argument (None when it cannot be shown)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    name = type(value).__name__
    if name in ("dtype", "device", "layout", "memory_format"):
        return str(value).removeprefix("torch.")
    if name in ("SymInt", "SymFloat", "SymBool"):
        return jsonable(value.node.hint if hasattr(value, "node") else str(value))
    return f"<{name}>"


def _is_tensor(value: Any) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value)


def describe_args(func: Any, args: Any, kwargs: Any, info: OpInfo) -> CallArgs:
    """The arguments and input digest of one call of ``func`` (see the module docstring)."""
    spec = _SPECS.get(func)
    if spec is None:
        spec = _SPECS[func] = op_arguments(func)
    blank = {name for _, name, kwarg_only in info.mutated if kwarg_only or info.overwrites}
    if info.view:  # a view computes nothing: its inputs by dtype and shape, as its output
        blank = {name for name, *_ in spec}
    shown: dict[str, Any] = {}
    h = hashlib.blake2b(digest_size=12)
    dtypes: list[str] = []
    for position, (name, kwarg_only, has_default, default) in enumerate(spec):
        if not kwarg_only and position < len(args):
            value = args[position]
        elif name in kwargs:
            value = kwargs[name]
        elif has_default:
            value = default
        else:
            continue
        if not _is_tensor(value):
            shown[name] = jsonable(value)
            continue
        for t in value if isinstance(value, (list, tuple)) else (value,):
            if t is None:
                h.update(b"none|")
                continue
            dtypes.append(str(t.dtype).removeprefix("torch."))
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            if name not in blank:
                h.update(_cached_content(t))
    return CallArgs(shown, h.hexdigest() if dtypes else "", tuple(dtypes))


def remember_content(t: torch.Tensor, content: bytes) -> None:
    """Keep ``content`` as what :func:`_content` gives for ``t`` while it is unchanged."""
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    with contextlib.suppress(TypeError):  # a tensor subclass without weak references
        _SEEN[id(t)] = (weakref.ref(t), tensor_version(t), content)


def _cached_content(t: torch.Tensor) -> bytes:
    """:func:`_content`, reused while the same tensor object is unchanged."""
    seen = _SEEN.get(id(t))
    if seen is not None and seen[0]() is t and seen[1] == tensor_version(t):
        return seen[2]
    content = _content(t)
    remember_content(t, content)
    return content


def _content(t: torch.Tensor) -> bytes:
    """The bytes' CRC (a strided subset plus min and max when large and floating)."""
    import torch

    from reprocheck.replay.trace_digest import crc_of

    if t.layout != torch.strided or t.device.type == "meta":
        return _NO_CONTENT.encode()
    t = t.detach()
    n = t.numel()
    if n == 0:
        return b"empty"
    if t.is_floating_point() and n * t.element_size() > EXACT_BYTES:
        # min and max read the tensor where it lies, and the subset is gathered by
        # position: a large input that is a view (a transposed weight, read by every
        # matmul) is never copied whole. The bytes are those of the copy it replaces.
        dense = memory_order(t)
        low, high = torch.aminmax(t if dense is None else dense)
        extra = struct.pack("<2d", float(low) + 0.0, float(high) + 0.0)
        return extra + crc_of(every_nth(t, -(-n // SUBSET_ELEMENTS)))
    # contiguous: a 1-d view with stride 0 (an expanded scalar) reshapes to itself, and its
    # bytes are not numel * element_size bytes from its data pointer.
    return crc_of(t.reshape(-1).contiguous())


def memory_order(t: torch.Tensor) -> torch.Tensor | None:
    """The elements of ``t`` as a 1-d view in the order they lie in memory, where they
    fill a block of it with nothing between or shared (a contiguous tensor, or one whose
    dimensions were permuted: a transposed weight); else None. Order-free reductions
    (min, max) read that view at full speed instead of walking ``t``'s strides."""
    if t.is_contiguous():
        return t.reshape(-1)
    expected = 1
    for stride, size in sorted(
        (st, sz) for sz, st in zip(t.shape, t.stride(), strict=True) if sz != 1
    ):
        if stride != expected:
            return None
        expected *= size
    return t.as_strided((t.numel(),), (1,))


def every_nth(t: torch.Tensor, step: int) -> torch.Tensor:
    """``t.reshape(-1)[::step].contiguous()`` without copying a non-contiguous ``t`` whole:
    ``torch.take`` reads the elements at flat positions 0, step, 2 step, ... in place."""
    import torch

    if t.is_contiguous():
        return t.reshape(-1)[::step].contiguous()
    return torch.take(t, torch.arange(0, t.numel(), step, device=t.device))
