"""What a run keeps of its final tensors: ``all``, ``params`` or ``digests``.

* ``all`` (the default): every parameter, buffer and optimizer state tensor.
* ``params``: parameters and buffers (the model); optimizer state as digests only.
* ``digests``: no tensor data at all; every final tensor as its digest only.

Every mode keeps each tensor's dtype, shape and digest in its record, and the per-step
records (digests, norms, the operator trace) whole, so compare still localizes the
first divergent step and operator; what it can tell of the final tensors themselves is
in docs/artifact-format.md ("Lean runs"). The mode is written in ``run.json`` (``keep``;
absent means ``all``).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["KEEP_MODES", "Keep", "kept"]

Keep = Literal["all", "params", "digests"]
KEEP_MODES: tuple[Keep, ...] = get_args(Keep)
_MODEL = ("param/", "buffer/")


def kept(mode: str, key: str) -> bool:
    """Whether a run written with ``mode`` stores the final tensor ``key``'s data."""
    if mode == "all":
        return True
    if mode == "params":
        return key.startswith(_MODEL)
    return False
