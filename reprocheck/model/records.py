"""What a replay records: plain, frozen values with ``to_dict``/``from_dict``.

These types are the contract between the replay engine (which fills them) and compare
(which reads them). Files are known only to :mod:`reprocheck.artifacts.runs`; this module knows
nothing about paths or formats beyond the JSON-ready dictionaries.

Phases, in the order they happen: ``init`` (building the scenario: initialisers and
seeded data), then per step ``forward`` (model and loss), ``backward``, ``optimizer``
(optimizer step, gradient clipping, LR schedule).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any, Literal

from reprocheck._schema import (
    decode_float,
    encode_float,
    req,
    req_dict,
    req_float,
    req_int,
    req_list,
    req_str,
)
from reprocheck.errors import ArtifactError
from reprocheck.model._trace_fast import LazyTrace
from reprocheck.model.compiled import Compiled
from reprocheck.model.trace_entry import TraceEntry

__all__ = [
    "PHASES",
    "RECORDED_SOURCE",
    "Compiled",
    "NonFinite",
    "Phase",
    "ScenarioConfig",
    "ScenarioRecord",
    "StepRecord",
    "TensorInfo",
    "TraceEntry",
    "trace_documents",
]

_DIGEST = re.compile(r"crc32:[0-9a-f]{8}")


def trace_documents(
    a: Sequence[TraceEntry], b: Sequence[TraceEntry]
) -> tuple[LazyTrace[TraceEntry], LazyTrace[TraceEntry]] | None:
    """Both traces as read from their records (their JSON lists at hand, entries read one
    at a time on demand), or None where either was built otherwise."""
    if isinstance(a, LazyTrace) and isinstance(b, LazyTrace):
        return a, b
    return None


#: ``ScenarioRecord.source`` of a run recorded from the user's own loop (reprocheck.record):
#: there is no scenario of that name to replay.
RECORDED_SOURCE = "recorded"

Phase = Literal["init", "forward", "backward", "optimizer"]
PHASES: tuple[Phase, ...] = ("init", "forward", "backward", "optimizer")


def _floats(values: dict[str, Any], where: str) -> dict[str, float]:
    return {str(k): decode_float(v, f"{where}[{k!r}]") for k, v in values.items()}


def _strs(values: dict[str, Any], where: str) -> dict[str, str]:
    for key, value in values.items():
        if not isinstance(value, str):
            raise ArtifactError(f"{where}[{key!r}] must be a string")
    return {str(k): v for k, v in values.items()}


@dataclasses.dataclass(frozen=True, slots=True)
class ScenarioConfig:
    """How a scenario was replayed: enough to replay it again elsewhere.

    ``world_size``, ``backend`` and ``bucket_cap_mb`` describe a distributed replay
    (docs/distributed.md); a single-process replay leaves them at 1, None, None and
    writes none of the three keys, so its record reads exactly as before they existed.
    """

    steps: int
    seed: int
    device: str
    dtype: str
    trace_steps: int
    world_size: int = 1
    backend: str | None = None
    bucket_cap_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.world_size == 1 and self.backend is None and self.bucket_cap_mb is None:
            for key in ("world_size", "backend", "bucket_cap_mb"):
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> ScenarioConfig:
        backend = data.get("backend")
        if backend is not None and not isinstance(backend, str):
            raise ArtifactError(f"{where}: key 'backend' must be a string or null")
        bucket = data.get("bucket_cap_mb")
        world_size = req_int(data, "world_size", where, minimum=1) if "world_size" in data else 1
        return cls(
            steps=req_int(data, "steps", where, minimum=1),
            seed=req_int(data, "seed", where),
            device=req_str(data, "device", where),
            dtype=req_str(data, "dtype", where),
            trace_steps=req_int(data, "trace_steps", where, minimum=0),
            world_size=world_size,
            backend=backend,
            bucket_cap_mb=None
            if bucket is None
            else decode_float(bucket, f"{where}: 'bucket_cap_mb'"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class StepRecord:
    """What one training step produced.

    ``param_digests`` are taken after the optimizer step, ``grad_digests`` after backward.
    ``param_norms`` (per parameter, after the step) let compare draw the divergence growth
    without storing every step's tensors. ``batch_digest`` tells data-order changes apart
    from maths changes. ``lr`` is param group 0's learning rate; ``lrs`` (written by
    :func:`reprocheck.record` only, else empty and not written) holds every group's.
    """

    step: int
    loss: float
    grad_norm: float
    param_norm: float
    lr: float
    batch_digest: str
    metrics: dict[str, float]
    param_digests: dict[str, str]
    grad_digests: dict[str, str]
    param_norms: dict[str, float]
    lrs: tuple[float, ...] = ()
    buffer_digests: dict[str, str] = dataclasses.field(default_factory=dict)
    buffer_norms: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"lrs": [encode_float(v) for v in self.lrs]} if self.lrs else {}
        if self.buffer_digests:
            extra["buffer_digests"] = dict(self.buffer_digests)
        if self.buffer_norms:
            extra["buffer_norms"] = {k: encode_float(v) for k, v in self.buffer_norms.items()}
        return {
            "step": self.step,
            "loss": encode_float(self.loss),
            "grad_norm": encode_float(self.grad_norm),
            "param_norm": encode_float(self.param_norm),
            "lr": encode_float(self.lr),
            "batch_digest": self.batch_digest,
            "metrics": {k: encode_float(v) for k, v in self.metrics.items()},
            "param_digests": dict(self.param_digests),
            "grad_digests": dict(self.grad_digests),
            "param_norms": {k: encode_float(v) for k, v in self.param_norms.items()},
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "step") -> StepRecord:
        return cls(
            step=req_int(data, "step", where, minimum=0),
            loss=req_float(data, "loss", where),
            grad_norm=req_float(data, "grad_norm", where),
            param_norm=req_float(data, "param_norm", where),
            lr=req_float(data, "lr", where),
            batch_digest=req_str(data, "batch_digest", where),
            metrics=_floats(req_dict(data, "metrics", where), f"{where}.metrics"),
            param_digests=_strs(req_dict(data, "param_digests", where), f"{where}.param_digests"),
            grad_digests=_strs(req_dict(data, "grad_digests", where), f"{where}.grad_digests"),
            param_norms=_floats(req_dict(data, "param_norms", where), f"{where}.param_norms"),
            lrs=tuple(
                decode_float(v, f"{where}.lrs")
                for v in (req_list(data, "lrs", where) if "lrs" in data else [])
            ),
            buffer_digests=_strs(
                req_dict(data, "buffer_digests", where) if "buffer_digests" in data else {},
                f"{where}.buffer_digests",
            ),
            buffer_norms=_floats(
                req_dict(data, "buffer_norms", where) if "buffer_norms" in data else {},
                f"{where}.buffer_norms",
            ),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TensorInfo:
    """Dtype, shape and stored digest of one final tensor (all checked on load).

    ``layout`` is the tensor's layout in training: ``"strided"`` (dense; the key is then
    not written) or a sparse layout such as ``"sparse_coo"``, whose tensor the run stores
    densified. ``digest``: CRC-32 of the stored bytes (docs/artifact-format.md).
    """

    dtype: str
    shape: tuple[int, ...]
    layout: str = "strided"
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.layout == "strided" else {"layout": self.layout}
        if self.digest is not None:
            extra["digest"] = self.digest
        return {"dtype": self.dtype, "shape": list(self.shape), **extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> TensorInfo:
        shape = req_list(data, "shape", where)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ArtifactError(f"{where}: key 'shape' must be a list of non-negative integers")
        layout = req_str(data, "layout", where) if "layout" in data else "strided"
        digest = req_str(data, "digest", where) if data.get("digest") is not None else None
        if not _DIGEST.fullmatch(digest or "crc32:00000000"):
            raise ArtifactError(f"{where}: key 'digest' must read crc32:<8 hex digits>")
        dtype = req_str(data, "dtype", where)
        return cls(dtype=dtype, shape=tuple(shape), layout=layout, digest=digest)


@dataclasses.dataclass(frozen=True, slots=True)
class NonFinite:
    """The first step where training held a NaN or an infinity, and what held it first.

    ``what`` is ``"loss"``, ``"grad of <parameter>"`` or ``"param <parameter>"``
    (after that step's optimizer step), checked in that order.
    """

    step: int
    what: str

    def text(self) -> str:
        """``"loss non-finite from step 4"``."""
        return f"{self.what} non-finite from step {self.step}"

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "what": self.what}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> NonFinite:
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object or null")
        return cls(step=req_int(data, "step", where, minimum=0), what=req_str(data, "what", where))


@dataclasses.dataclass(frozen=True, slots=True)
class ScenarioRecord:
    """Everything one scenario's replay recorded, except the final tensors themselves.

    Final tensors (``tensors``) are named ``param/<parameter name>`` and
    ``optim/<parameter name>/<state key>`` (e.g. ``optim/fc1.weight/exp_avg``); buffers
    such as batch-norm running statistics are ``buffer/<name>``.

    ``ranks_agree`` (distributed replays only, else empty) holds one flag per step: whether
    every rank's parameters were bitwise equal to rank 0's after that step.

    ``first_nonfinite`` names the first step where the loss, a gradient or a parameter
    held a NaN or an infinity (None: training stayed finite, or a run from before the key).
    ``compiled``: what ``torch.compile`` did (None: no compiled module, or an older run).
    """

    name: str
    source: str
    config: ScenarioConfig
    init_digests: dict[str, str]
    steps: tuple[StepRecord, ...]
    trace: Sequence[TraceEntry]
    tensors: dict[str, TensorInfo]
    modules: tuple[str, ...] = ()
    duration_s: float = 0.0
    ranks_agree: tuple[bool, ...] = ()
    first_nonfinite: NonFinite | None = None
    compiled: Compiled | None = None

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.ranks_agree:
            extra["ranks_agree"] = list(self.ranks_agree)
        nonfinite = self.first_nonfinite
        extra["first_nonfinite"] = None if nonfinite is None else nonfinite.to_dict()
        if self.compiled is not None:
            extra["compiled"] = self.compiled.to_dict()
        return {
            **extra,
            "name": self.name,
            "source": self.source,
            "config": self.config.to_dict(),
            "init_digests": dict(self.init_digests),
            "steps": [s.to_dict() for s in self.steps],
            "trace": [t.to_dict() for t in self.trace],
            "tensors": {k: v.to_dict() for k, v in self.tensors.items()},
            "modules": list(self.modules),
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "scenario") -> ScenarioRecord:
        name = req_str(data, "name", where)
        where = f"{where} {name!r}"
        steps = req_list(data, "steps", where)
        trace = req_list(data, "trace", where)
        tensors = req_dict(data, "tensors", where)
        modules = data.get("modules", [])
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            raise ArtifactError(f"{where}: key 'modules' must be a list of strings")
        agree = data.get("ranks_agree", [])
        if not isinstance(agree, list) or not all(isinstance(a, bool) for a in agree):
            raise ArtifactError(f"{where}: key 'ranks_agree' must be a list of true/false")
        duration = data.get("duration_s", 0.0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise ArtifactError(f"{where}: key 'duration_s' must be a number")
        return cls(
            name=name,
            source=req_str(data, "source", where),
            config=ScenarioConfig.from_dict(req(data, "config", dict, where), f"{where}.config"),
            init_digests=_strs(req_dict(data, "init_digests", where), f"{where}.init_digests"),
            steps=tuple(
                StepRecord.from_dict(s, f"{where}.steps[{i}]") for i, s in enumerate(steps)
            ),
            trace=LazyTrace(trace, where, TraceEntry),
            tensors={
                str(k): TensorInfo.from_dict(v, f"{where}.tensors[{k!r}]")
                for k, v in tensors.items()
            },
            modules=tuple(modules),
            duration_s=float(duration),
            ranks_agree=tuple(agree),
            first_nonfinite=None
            if data.get("first_nonfinite") is None
            else NonFinite.from_dict(data["first_nonfinite"], f"{where}.first_nonfinite"),
            compiled=None
            if data.get("compiled") is None
            else Compiled.from_dict(data["compiled"], f"{where}.compiled"),
        )
