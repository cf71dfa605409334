"""``seed_everything``: one seed for Python's ``random``, numpy and torch, in your own code.

Unlike :func:`reprocheck.replay.seeding.seeded`, which seeds a replay and restores the
caller's state afterwards, this seeds the calling process for good, as the first line of
a training script does. It remembers the seed, so that :func:`reprocheck.record` can write
it into the run's configuration.
"""

from __future__ import annotations

import random

from reprocheck.replay.seeding import check_seed

__all__ = ["last_seed", "seed_everything"]

# numpy's legacy seed takes 32 bits; torch and Python take the whole seed.
_NUMPY_SEED_MOD = 2**32
_last: list[int] = []


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, numpy (when installed) and torch (CPU and every CUDA GPU).

    Deterministic algorithms and TF32 are left as they are: they are settings of your
    training, and the fingerprint records them.

    Args:
        seed: a whole number from 0 to 2**63 - 1.

    Returns:
        The seed, as :func:`reprocheck.record` will record it.

    Raises:
        InputError: the seed is not a whole number in range (field ``seed``).
    """
    import torch

    check_seed(seed)
    random.seed(seed)
    try:
        import numpy
    except ImportError:
        pass
    else:
        numpy.random.seed(seed % _NUMPY_SEED_MOD)
    torch.manual_seed(seed)  # also seeds every CUDA generator
    _last[:] = [seed]
    return seed


def last_seed() -> int | None:
    """The seed :func:`seed_everything` set last in this process, or None if never called."""
    return _last[0] if _last else None
