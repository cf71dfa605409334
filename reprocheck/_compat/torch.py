"""The one door to version-dependent and private torch APIs (torch 2.1 through the newest).

Rules: every function here works on every supported torch; a setting that a version lacks
reads as ``None`` rather than raising. Callers import torch lazily through these helpers.

Sections are owned by feature areas; add to your section, keep each function small.
"""

from __future__ import annotations

from typing import Any

__all__ = ["torch_module"]


def torch_module() -> Any:
    """Import torch lazily (``reprocheck --help`` must never import it)."""
    import torch

    return torch


# --- fingerprint: build info, dispatch level, determinism and precision flags -----------


# --- replay: deterministic mode (set/restore), dispatch-mode tracing, autograd nodes ----


# --- trace: TorchDispatchMode, current autograd node, module hooks -----------------------


def dispatch_mode_base() -> type[Any] | None:
    """``TorchDispatchMode`` (private module, present since torch 1.13), or ``None``."""
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:  # pragma: no cover - every supported torch has it
        return None
    return TorchDispatchMode


def current_autograd_node() -> Any:
    """The autograd node the backward engine is running now, or ``None``.

    ``torch._C._current_autograd_node`` is private (torch >= 2.0); without it, backward
    operators simply get no module path.
    """
    import torch

    getter = getattr(torch._C, "_current_autograd_node", None)
    if getter is None:  # pragma: no cover - absent only on very old torch
        return None
    try:
        return getter()
    except RuntimeError:  # pragma: no cover - defensive: outside the engine on some builds
        return None


def node_metadata(node: Any) -> dict[str, Any] | None:
    """The per-node ``metadata`` dict of an autograd node (torch >= 2.0), or ``None``."""
    try:
        metadata = node.metadata
    except (AttributeError, RuntimeError):  # pragma: no cover - old torch or a dead node
        return None
    return metadata if isinstance(metadata, dict) else None


def op_mutated_args(func: Any) -> tuple[tuple[int, str, bool], ...]:
    """``(position, name, kwarg_only)`` of each argument an operator writes to (``Tensor(a!)``)."""
    schema = getattr(func, "_schema", None)
    if schema is None:  # pragma: no cover - every OpOverload has one
        return ()
    return tuple(
        (i, str(arg.name), bool(arg.kwarg_only))
        for i, arg in enumerate(schema.arguments)
        if arg.alias_info is not None and arg.alias_info.is_write
    )


# --- compare: dtype names, bit views for ULP maths ---------------------------------------
