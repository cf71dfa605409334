"""One seed for every random source, deterministic kernels, and the caller's state restored.

:func:`seeded` is a context manager: inside it Python's ``random``, numpy (when
installed), torch's CPU generator and (for ``device="cuda"``) every CUDA generator are
seeded from one integer, deterministic algorithms are on and TF32 is off. On exit,
normally or through an exception, everything it changed is put back exactly: RNG states,
determinism and TF32 flags, ``CUBLAS_WORKSPACE_CONFIG`` and the default dtype. Thread
counts are never touched: they are part of the environment being checked.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reprocheck._compat import torch as compat
from reprocheck.errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["CUBLAS_ENV", "CUBLAS_WORKSPACE", "check_device", "check_seed", "seeded"]

CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_WORKSPACE = ":4096:8"
# torch.manual_seed takes a 64-bit seed; Python's random and numpy take smaller ones.
_SEED_MAX = 2**63 - 1
_NUMPY_SEED_MOD = 2**32


def check_device(device: str) -> None:
    """Raise InputError (field ``device``) unless it is ``cpu`` or an available ``cuda``."""
    if device == "cpu":
        return
    if device != "cuda":
        raise InputError(
            f"device must be 'cpu' or 'cuda', got {device!r}",
            hint="Use device 'cpu' or device 'cuda'.",
            field="device",
        )
    import torch

    if not torch.cuda.is_available():
        raise InputError(
            "device 'cuda' was asked for, but torch sees no CUDA GPU here",
            hint="Run on a machine with a GPU and a CUDA build of torch, or use device 'cpu'.",
            field="device",
        )


def check_seed(seed: int) -> None:
    """Raise InputError (field ``seed``) for a seed torch cannot take."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(
            f"seed must be a whole number, got {seed!r}",
            hint=f"Use a seed between 0 and {_SEED_MAX}.",
            field="seed",
        )
    if not 0 <= seed <= _SEED_MAX:
        raise InputError(
            f"seed {seed} is out of range",
            hint=f"Use a seed between 0 and {_SEED_MAX}.",
            field="seed",
        )


class _Saved:
    """Everything :func:`seeded` changes, captured before it changes it."""

    def __init__(self, device: str) -> None:
        import torch

        self.python = random.getstate()
        self.numpy = _numpy_state()
        self.torch_cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if device == "cuda" else None
        self.numeric = compat.numeric_mode_state()
        self.env = os.environ.get(CUBLAS_ENV)
        self.default_dtype = torch.get_default_dtype()

    def restore(self) -> None:
        import torch

        random.setstate(self.python)
        if self.numpy is not None:
            import numpy

            numpy.random.set_state(self.numpy)
        torch.set_rng_state(self.torch_cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        compat.restore_numeric_mode(self.numeric)
        if self.env is None:
            os.environ.pop(CUBLAS_ENV, None)
        else:
            os.environ[CUBLAS_ENV] = self.env
        torch.set_default_dtype(self.default_dtype)


def _numpy_state() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy.random.get_state()


@contextlib.contextmanager
def seeded(
    seed: int, *, device: str = "cpu", default_dtype: torch.dtype | None = None
) -> Iterator[torch.Generator]:
    """Seed every RNG, switch to deterministic mode, and restore the caller's state after.

    Args:
        seed: the one seed for every random source.
        device: ``"cpu"`` or ``"cuda"``; CUDA generators are seeded only for ``"cuda"``.
        default_dtype: set ``torch.set_default_dtype`` to this inside the block, if given.

    Yields:
        A CPU ``torch.Generator`` seeded from ``seed``, for the scenario's data.
    """
    import torch

    check_seed(seed)
    check_device(device)
    saved = _Saved(device)
    try:
        if device == "cuda" and compat.needs_cublas_workspace_config():
            os.environ[CUBLAS_ENV] = CUBLAS_WORKSPACE
        compat.set_deterministic_mode()
        if default_dtype is not None:
            torch.set_default_dtype(default_dtype)
        random.seed(seed)
        if saved.numpy is not None:
            import numpy

            numpy.random.seed(seed % _NUMPY_SEED_MOD)
        # Not torch.manual_seed: on a CPU replay the caller's CUDA generators stay untouched.
        torch.default_generator.manual_seed(seed)
        if device == "cuda":
            torch.cuda.manual_seed_all(seed)
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed)
        yield generator
    finally:
        saved.restore()
