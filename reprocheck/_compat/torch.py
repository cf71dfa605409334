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


# --- compare: dtype names, bit views for ULP maths ---------------------------------------
