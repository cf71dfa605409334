"""How a scenario is replayed, as one checked value: :class:`ReplayOptions`.

Every way in (the Python API, the CLI, a baseline's recorded config, the JSON a rank reads)
builds a ``ReplayOptions``, and building one checks it: an instance is always valid, so
nothing downstream checks again. A bad value raises :class:`~reprocheck.errors.InputError`
whose message names the field (``steps must be >= 1, got 0``) and whose ``field`` says
which one, so a front end can name its own spelling instead (the CLI says ``--steps``).

Example::

    from reprocheck.replay.options import ReplayOptions

    options = ReplayOptions(steps=5, seed=1)
    ddp = ReplayOptions(steps=5, world_size=2)  # backend "gloo", bucket_cap_mb 25.0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reprocheck.errors import InputError
from reprocheck.replay.seeding import check_device, check_seed

if TYPE_CHECKING:
    from reprocheck.model.records import ScenarioConfig

__all__ = ["BACKENDS", "DEFAULT_BUCKET_CAP_MB", "ReplayOptions", "default_backend"]

BACKENDS: tuple[str, ...] = ("gloo", "nccl")
#: DDP's own default bucket size; recorded explicitly so a later default change shows.
DEFAULT_BUCKET_CAP_MB = 25.0


def default_backend(device: str) -> str:
    """``nccl`` for CUDA, ``gloo`` for the CPU."""
    return "nccl" if device == "cuda" else "gloo"


@dataclasses.dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay scenarios; checked when built, immutable after.

    Attributes:
        steps: training steps per scenario (``None``: each scenario's default).
        seed: the one seed for every random source (0 to 2**63 - 1).
        device: ``"cpu"`` or ``"cuda"`` (a CUDA GPU must be visible to torch).
        trace_steps: trace the build and the first ``trace_steps`` steps operator by
            operator (0: no trace).
        world_size: ranks training together in DistributedDataParallel (1: one process).
        backend: ``"gloo"`` or ``"nccl"``; for a world size above 1, None becomes gloo on
            the CPU and nccl on CUDA. Must stay None for world size 1.
        bucket_cap_mb: DDP's gradient bucket size in MB; for a world size above 1, None
            becomes 25 (DDP's own default). Must stay None for world size 1.

    Raises:
        InputError: a bad value, naming the field (``error.field``).
    """

    steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    trace_steps: int = 1
    world_size: int = 1
    backend: str | None = None
    bucket_cap_mb: float | None = None

    def __post_init__(self) -> None:
        if self.steps is not None:
            _check_count("steps", self.steps, minimum=1)
        _check_count("trace_steps", self.trace_steps, minimum=0)
        check_seed(self.seed)
        _check_count("world_size", self.world_size, minimum=1)
        check_device(self.device)
        backend, bucket = _distributed(
            self.world_size, self.backend, self.bucket_cap_mb, self.device
        )
        # Frozen: the defaults are filled in once, here, where the value is made.
        object.__setattr__(self, "backend", backend)
        object.__setattr__(self, "bucket_cap_mb", bucket)

    @classmethod
    def for_record(cls, config: ScenarioConfig) -> ReplayOptions:
        """The options a recorded replay ran with, to replay it again exactly.

        Raises:
            InputError: they cannot run here (``device 'cuda'`` without a GPU).
        """
        return cls(
            steps=config.steps,
            seed=config.seed,
            device=config.device,
            trace_steps=config.trace_steps,
            world_size=config.world_size,
            backend=config.backend,
            bucket_cap_mb=config.bucket_cap_mb,
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready; :meth:`from_dict` reads it back."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayOptions:
        """Options from :meth:`to_dict`'s form (missing keys take their defaults), checked.

        Raises:
            InputError: an unknown key, or a bad value (naming its field).
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise InputError(
                f"unknown replay option {unknown[0]!r}",
                hint=f"Replay options are {', '.join(sorted(known))}.",
            )
        return cls(**data)

    def layout(self) -> dict[str, Any]:
        """The distributed layout, as a run's fingerprint records it (``run`` section)."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "bucket_cap_mb": self.bucket_cap_mb,
        }


def _check_count(field: str, value: object, *, minimum: int) -> None:
    # bool is an int in Python, but True steps is a mistake, not one step.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"{field} must be a whole number, got {value!r}",
            hint=f"Give {field} as an integer >= {minimum}.",
            field=field,
        )
    if value < minimum:
        raise InputError(
            f"{field} must be >= {minimum}, got {value}",
            hint=f"Give {field} {minimum} or more.",
            field=field,
        )


def _distributed(
    world_size: int, backend: object, bucket_cap_mb: object, device: str
) -> tuple[str | None, float | None]:
    """``(backend, bucket_cap_mb)`` with the defaults filled in; both None for world size 1."""
    if world_size == 1:
        for field, value in (("backend", backend), ("bucket_cap_mb", bucket_cap_mb)):
            if value is not None:
                raise InputError(
                    f"{field} needs a distributed replay, but world_size is 1",
                    hint=f"Use world_size 2 (or more), or leave out {field}.",
                    field=field,
                )
        return None, None
    return _backend(backend, device), _bucket(bucket_cap_mb)


def _backend(backend: object, device: str) -> str:
    chosen = default_backend(device) if backend is None else backend
    if not isinstance(chosen, str) or chosen not in BACKENDS:
        raise InputError(
            f"backend must be 'gloo' or 'nccl', got {chosen!r}",
            hint="Use backend 'gloo' on the CPU, or 'nccl' on CUDA.",
            field="backend",
        )
    if chosen == "nccl" and device != "cuda":
        raise InputError(
            "backend 'nccl' needs device 'cuda' (NCCL reduces GPU tensors only)",
            hint="Use backend 'gloo' on the CPU, or device 'cuda'.",
            field="backend",
        )
    return chosen


def _bucket(bucket_cap_mb: object) -> float:
    if bucket_cap_mb is None:
        return DEFAULT_BUCKET_CAP_MB
    size = (
        float(bucket_cap_mb)
        if isinstance(bucket_cap_mb, int | float) and not isinstance(bucket_cap_mb, bool)
        else math.nan
    )
    if not math.isfinite(size) or size <= 0:
        raise InputError(
            f"bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}",
            hint=f"Give a size in megabytes, e.g. bucket_cap_mb {DEFAULT_BUCKET_CAP_MB:g}.",
            field="bucket_cap_mb",
        )
    return size
