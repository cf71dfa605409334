"""What a training step reads off its tensors: digests, norms and non-finite checks.

Shared by the replay engine (:mod:`reprocheck.replay.step`) and the recorder of a user's
own loop (:mod:`reprocheck.workflows.record`). Everything here only reads tensors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck.model.digest import tensor_digest

if TYPE_CHECKING:
    import torch

__all__ = [
    "batch_digest",
    "buffer_state",
    "digests_and_norms",
    "first_nonfinite",
    "norm_operands",
]

#: Tensors of at least this many bytes in all are digested beside their norms.
_BESIDE = 1 << 23


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


def digests_and_norms(
    named: Mapping[str, torch.Tensor],
) -> tuple[dict[str, str], list[float]]:
    """Each tensor's digest (by name) and 2-norm (in order), the recording of every step.

    For CPU tensors the digests run on a helper thread (CRC-32 releases the GIL) while
    the norms take this one, where :func:`~reprocheck._compat.torch.stable_norms` holds
    torch to a single thread: two cores at work instead of one (a 67M model's
    parameters here: 25 ms -> 15 ms, twice a step). Tensors on an accelerator are read
    on this thread only, in its stream order; so are small models' tensors, where
    starting a thread would cost more than it saves.
    """
    tensors = list(named.values())

    def digests() -> dict[str, str]:
        return {name: tensor_digest(t) for name, t in named.items()}

    small = sum(t.numel() * t.element_size() for t in tensors) < _BESIDE
    if small or len(tensors) < 2 or any(t.device.type != "cpu" for t in tensors):
        return digests(), compat.stable_norms(norm_operands(tensors))
    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = helper.submit(digests)
        norms = compat.stable_norms(norm_operands(tensors))
        return pending.result(), norms


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


def buffer_state(buffers: Mapping[str, torch.Tensor]) -> tuple[dict[str, str], dict[str, float]]:
    """Each buffer's digest, and the norm of each floating one, by name."""
    digests = {name: tensor_digest(b) for name, b in buffers.items()}
    floating = {name: b for name, b in buffers.items() if b.is_floating_point()}
    norms = compat.stable_norms(norm_operands(floating.values()))
    return digests, dict(zip(floating, norms, strict=True))


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
