"""Distributed replay: one scenario trained by N ranks through torch.distributed and DDP.

The rules every rank follows (docs/distributed.md tells users the same):

* **Options.** World size 1 is a plain single-process replay: no process group, no DDP.
  Above 1 the backend is ``gloo`` on the CPU and ``nccl`` on CUDA unless given, and the
  DDP bucket size is 25 MB (DDP's own default) unless given
  (:class:`~reprocheck.replay.options.ReplayOptions` fills both in).
* **Batches.** ``scenario.batch(step)`` returns the *global* batch. Rank ``r`` of ``N``
  trains on rows ``[r*n, (r+1)*n)`` along dimension 0 of every tensor in it, where
  ``n = rows / N``; a tensor whose rows do not divide by ``N`` is a ScenarioError.
  Zero-dimensional tensors and plain values go to every rank whole.
* **What is recorded.** The loss and metrics are the mean over ranks (summed in rank
  order, then divided by ``N``); gradients, parameters, digests and final tensors are
  rank 0's (DDP has averaged the gradients, so every rank should hold the same ones).
* **Agreement.** After each step every rank hashes its parameter digests; the hashes are
  gathered and a step's ranks agree when every hash equals rank 0's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reprocheck.errors import EnvironmentFailure, InputError, ScenarioError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DistSetup",
    "disagreeing_ranks",
    "gather_hashes",
    "init_group",
    "launched_world",
    "leave_group",
    "mean_over_ranks",
    "params_hash",
    "shard_batch",
]

_HASH_BYTES = 16


@dataclasses.dataclass(frozen=True)
class DistSetup:
    """Where this process stands in a distributed replay.

    Attributes:
        world_size: how many ranks train the model together.
        rank: this process's rank (0 writes the artifact).
        local_rank: its rank on this machine (picks the GPU for ``nccl``).
        backend: ``"gloo"`` or ``"nccl"``.
        bucket_cap_mb: DDP's gradient bucket size in megabytes.
    """

    world_size: int
    rank: int
    local_rank: int
    backend: str
    bucket_cap_mb: float


def _env_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None and default is not None:
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise InputError(
            f"environment variable {name}={raw!r} is not a whole number",
            hint="Start the ranks with torchrun, which sets RANK, WORLD_SIZE and LOCAL_RANK.",
        ) from None
    if value < 0:
        raise InputError(f"environment variable {name}={value} is negative")
    return value


def launched_world(environ: Mapping[str, str] | None = None) -> tuple[int, int, int] | None:
    """``(rank, world size, local rank)`` when a launcher such as torchrun started us.

    torchrun (and reprocheck's own launcher) set ``RANK`` and ``WORLD_SIZE`` for every
    process it starts; without both, this process was not started as a rank.
    """
    env = os.environ if environ is None else environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    rank = _env_int(env, "RANK")
    world = _env_int(env, "WORLD_SIZE")
    local = _env_int(env, "LOCAL_RANK", default=rank)
    if world < 1 or rank >= world:
        raise InputError(
            f"RANK={rank} and WORLD_SIZE={world} do not describe a rank of a process group",
            hint="Start the ranks with torchrun, which sets both consistently.",
        )
    return rank, world, local


def init_group(setup: DistSetup, device: str) -> None:
    """Join the process group the launcher described in the environment (``env://``).

    Raises:
        EnvironmentFailure: torch.distributed is missing, or the group cannot be formed.
    """
    import torch

    from reprocheck._compat import torch as compat

    caps = compat.dist_capabilities()
    if not caps["available"] or not caps["backends"].get(setup.backend):
        raise EnvironmentFailure(
            f"this torch build has no torch.distributed {setup.backend} backend",
            hint="Install a torch build with distributed support, or replay with world_size 1.",
        )
    if device == "cuda":
        torch.cuda.set_device(setup.local_rank)
    import torch.distributed as dist

    if dist.is_initialized():  # already joined (a caller that set up the group itself)
        return
    try:
        dist.init_process_group(
            setup.backend, init_method="env://", rank=setup.rank, world_size=setup.world_size
        )
    except (RuntimeError, ValueError) as exc:
        raise EnvironmentFailure(
            f"rank {setup.rank} could not join the process group: {_first_line(exc)}",
            hint="Check MASTER_ADDR and MASTER_PORT, and that every rank was started.",
        ) from None


def leave_group() -> None:
    """Wait for every rank at a final barrier, then leave the process group."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def shard_batch(batch: Any, rank: int, world_size: int, *, name: str, step: int) -> Any:
    """This rank's rows of the global batch: dimension 0 of every tensor, cut in N parts.

    Tuples (named ones too), lists and dicts keep their structure; zero-dimensional
    tensors and plain values are passed whole.

    Raises:
        ScenarioError: a tensor's rows do not divide by the world size.
    """
    import torch

    def cut(item: Any, where: str) -> Any:
        if isinstance(item, torch.Tensor):
            if item.dim() == 0:
                return item
            rows = item.shape[0]
            if rows % world_size:
                raise ScenarioError(
                    f"scenario {name!r}: the batch at step {step} has {rows} rows in "
                    f"{where}, which do not divide among {world_size} ranks",
                    hint="Use a world_size that divides the global batch size.",
                    field="world_size",
                )
            n = rows // world_size
            return item[rank * n : (rank + 1) * n]
        if isinstance(item, tuple) and hasattr(item, "_fields"):  # a namedtuple
            return type(item)(
                *(cut(v, f"{where}.{f}") for f, v in zip(item._fields, item, strict=True))
            )
        if isinstance(item, (tuple, list)):
            return type(item)(cut(v, f"{where}[{i}]") for i, v in enumerate(item))
        if isinstance(item, dict):
            return {k: cut(v, f"{where}[{k!r}]") for k, v in item.items()}
        return item

    return cut(batch, "batch")


def params_hash(digests: Mapping[str, str]) -> bytes:
    """One short hash over every parameter's digest, in name order."""
    h = hashlib.blake2b(digest_size=_HASH_BYTES)
    for key in sorted(digests):
        h.update(f"{key}={digests[key]}\n".encode())
    return h.digest()


def disagreeing_ranks(hashes: Sequence[bytes]) -> list[int]:
    """The ranks whose parameter hash differs from rank 0's (empty: all agree)."""
    return [rank for rank, value in enumerate(hashes) if value != hashes[0]]


def _comm_device(backend: str) -> str:
    # NCCL reduces GPU tensors only; gloo reduces CPU tensors.
    return "cuda" if backend == "nccl" else "cpu"


def gather_hashes(value: bytes, setup: DistSetup) -> list[bytes]:
    """Every rank's ``value`` (same length on every rank), in rank order."""
    import torch
    import torch.distributed as dist

    device = _comm_device(setup.backend)
    # One int64 per byte: every backend reduces int64, not every one uint8.
    mine = torch.tensor(list(value), dtype=torch.int64, device=device)
    out = [torch.empty_like(mine) for _ in range(setup.world_size)]
    dist.all_gather(out, mine)
    return [bytes(t.to("cpu").tolist()) for t in out]


def gather_floats(values: Sequence[float], setup: DistSetup, *, name: str) -> list[list[float]]:
    """Every rank's list of floats, in rank order (float64, exact).

    Raises:
        ScenarioError: the ranks report different numbers of values (their metrics
            functions returned different keys).
    """
    import torch
    import torch.distributed as dist

    device = _comm_device(setup.backend)
    count = torch.tensor([len(values)], dtype=torch.int64, device=device)
    counts = [torch.empty_like(count) for _ in range(setup.world_size)]
    dist.all_gather(counts, count)
    if len({int(c.item()) for c in counts}) != 1:
        raise ScenarioError(
            f"scenario {name!r}: the ranks recorded different numbers of metrics",
            hint="Return the same metric names on every rank.",
        )
    mine = torch.tensor(list(values), dtype=torch.float64, device=device)
    out = [torch.empty_like(mine) for _ in range(setup.world_size)]
    dist.all_gather(out, mine)
    return [[float(v) for v in t.to("cpu").tolist()] for t in out]


def mean_over_ranks(per_rank: Sequence[Sequence[float]]) -> list[float]:
    """Element-wise mean over ranks: an exactly rounded sum in rank order, divided by N."""
    n = len(per_rank)
    return [math.fsum(column) / n for column in zip(*per_rank, strict=True)]


def wrap_model(model: torch.nn.Module, setup: DistSetup, device: str) -> torch.nn.Module:
    """The model in DistributedDataParallel with the run's bucket size."""
    import torch

    from reprocheck._compat import torch as compat

    device_ids = [torch.cuda.current_device()] if device == "cuda" else None
    wrapped: torch.nn.Module = compat.ddp_wrap(
        model, bucket_cap_mb=setup.bucket_cap_mb, device_ids=device_ids
    )
    return wrapped
