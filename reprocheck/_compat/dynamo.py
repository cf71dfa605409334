"""torch.compile (dynamo) internals the replay reads: the one place they are touched.

``torch._dynamo`` is private API: its cache, its counters and where a compiled module
keeps its backend may move between torch releases. Each function degrades to "nothing
known" (None, zeros) rather than failing when a name has moved.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compiled_backend", "counts", "forget_compiled_frames", "is_compiled"]


def is_compiled(module: Any) -> bool:
    """Is ``module`` a ``torch.compile`` wrapper (an ``OptimizedModule``)?"""
    return hasattr(module, "_orig_mod") and hasattr(module, "dynamo_ctx")


def compiled_backend(model: Any) -> str | None:
    """The backend name of the first ``torch.compile`` wrapper in ``model`` (None: none).

    A backend given as a callable without a name reads as ``"custom"``.
    """
    for module in model.modules():
        if not is_compiled(module):
            continue
        callback = getattr(module.dynamo_ctx, "callback", None)
        backend = getattr(callback, "_torchdynamo_orig_backend", None)
        inner = getattr(backend, "_torchdynamo_orig_backend", backend)
        name = getattr(inner, "compiler_name", None) or getattr(inner, "__name__", None)
        return str(name) if name else "custom"
    return None


def forget_compiled_frames() -> None:
    """Drop dynamo's caches and counters (``torch._dynamo.reset()``).

    Under a ``TorchDispatchMode`` (the operator trace) dynamo skips a frame and caches
    that decision for the code object: without a reset the frame runs eager for the rest
    of the process. The compiled graphs are rebuilt on the next call (inductor's on-disk
    cache makes that fast after the first run).
    """
    import torch._dynamo

    torch._dynamo.reset()


def counts() -> dict[str, int]:
    """Dynamo's counters since the last reset: graphs compiled, graph breaks, frames."""
    try:
        from torch._dynamo.utils import counters
    except ImportError:  # pragma: no cover - moved in a later torch
        return {"graphs": 0, "graph_breaks": 0, "frames": 0}
    return {
        "graphs": int(counters["stats"].get("unique_graphs", 0)),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "frames": int(counters["frames"].get("ok", 0)),
    }
