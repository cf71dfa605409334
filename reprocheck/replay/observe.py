"""What a training step reads off its tensors: digests, norms and non-finite checks.

Shared by the replay engine (:mod:`reprocheck.replay.step`) and the recorder of a user's
own loop (:mod:`reprocheck.workflows.record`). Everything here only reads tensors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck.model.digest import tensor_digest

if TYPE_CHECKING:
    import torch

__all__ = ["batch_digest", "buffer_state", "first_nonfinite", "norm_operands"]


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
