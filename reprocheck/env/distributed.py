"""The ``distributed`` section: the torch.distributed backends on offer and the run's layout.

What a fingerprint records about multi-process training:

* ``available``: whether this torch build has torch.distributed at all;
* ``backends``: which of gloo, nccl, mpi, ucc, xccl it offers (None: this torch cannot say);
* ``nccl_version``: the NCCL torch loaded, read only where CUDA is usable;
* ``world_size``, ``backend``, ``bucket_cap_mb``: how the recorded run was laid out
  (1, None, None for a single-process run). A plain ``reprocheck fingerprint`` reports
  ``WORLD_SIZE`` when a launcher such as torchrun set it, else 1.

The NCCL and gloo environment variables that steer reductions are in the ``env`` section
(allow-listed in :mod:`reprocheck.env.envvars`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reprocheck._compat import torch as compat

__all__ = ["RUN_KEYS", "capture_distributed"]

RUN_KEYS: tuple[str, ...] = ("world_size", "backend", "bucket_cap_mb")


def _world_size(environ: Mapping[str, str]) -> int:
    try:
        value = int(environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1
    return value if value >= 1 else 1


def capture_distributed(
    environ: Mapping[str, str], run: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``distributed`` section.

    Args:
        environ: the process environment (for ``WORLD_SIZE`` when ``run`` is None).
        run: the run's ``world_size``, ``backend`` and ``bucket_cap_mb``, when recording one.
    """
    section = compat.dist_capabilities()
    layout: dict[str, Any] = {"world_size": _world_size(environ), "backend": None}
    layout["bucket_cap_mb"] = None
    if run is not None:
        layout.update({key: run.get(key) for key in RUN_KEYS})
    section.update(layout)
    return section
