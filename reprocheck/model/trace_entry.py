"""One traced operator call: where it ran, what went in, what came out (see records.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from reprocheck._schema import decode_float, encode_float, req_dict, req_int, req_list, req_str
from reprocheck.errors import ArtifactError

__all__ = ["TraceEntry"]


def _strs_list(data: dict[str, Any], key: str, where: str) -> list[str]:
    values = req_list(data, key, where) if key in data else []
    if not all(isinstance(v, str) for v in values):
        raise ArtifactError(f"{where}: key {key!r} must be a list of strings")
    return values


@dataclasses.dataclass(frozen=True, slots=True)
class TraceEntry:
    """One aten operator call in a traced step: where it ran and what it produced.

    No activations are stored: ``digest`` identifies the output bytes exactly, and a few
    summary numbers (``absmax``, ``mean`` and a strided ``sample`` of at most 8 values,
    all of the first floating output) let compare judge *how far* two outputs differ.
    ``args`` (the call's non-tensor arguments by schema name), ``inputs`` (one digest of its
    tensor inputs) and ``in_dtypes`` let compare tell a changed argument or precision, or a
    changed kernel (equal inputs, other output), from a difference passed on from upstream;
    runs from before they were recorded have them empty.
    """

    step: int
    index: int
    phase: str
    op: str
    module: str
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]
    digest: str
    absmax: float | None = None
    mean: float | None = None
    sample: tuple[float, ...] = ()
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    inputs: str = ""
    in_dtypes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.args or self.inputs:  # runs from before the trace kept arguments lack them
            extra = {"args": self.args, "inputs": self.inputs, "in_dtypes": list(self.in_dtypes)}
        return {
            "step": self.step,
            "index": self.index,
            "phase": self.phase,
            "op": self.op,
            "module": self.module,
            "shapes": [list(s) for s in self.shapes],
            "dtypes": list(self.dtypes),
            "digest": self.digest,
            "absmax": None if self.absmax is None else encode_float(self.absmax),
            "mean": None if self.mean is None else encode_float(self.mean),
            "sample": [encode_float(v) for v in self.sample],
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "trace entry") -> TraceEntry:
        shapes = req_list(data, "shapes", where)
        for shape in shapes:
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in shape
            ):
                raise ArtifactError(f"{where}: key 'shapes' must be a list of integer lists")
        dtypes = req_list(data, "dtypes", where)
        if not all(isinstance(d, str) for d in dtypes):
            raise ArtifactError(f"{where}: key 'dtypes' must be a list of strings")
        absmax = data.get("absmax")
        mean = data.get("mean")
        sample = data.get("sample", [])
        if not isinstance(sample, list):
            raise ArtifactError(f"{where}: key 'sample' must be a list")
        return cls(
            step=req_int(data, "step", where, minimum=0),
            index=req_int(data, "index", where, minimum=0),
            phase=req_str(data, "phase", where),
            op=req_str(data, "op", where),
            module=req_str(data, "module", where),
            shapes=tuple(tuple(s) for s in shapes),
            dtypes=tuple(dtypes),
            digest=req_str(data, "digest", where),
            absmax=None if absmax is None else decode_float(absmax, f"{where}: 'absmax'"),
            mean=None if mean is None else decode_float(mean, f"{where}: 'mean'"),
            sample=tuple(decode_float(v, f"{where}: 'sample'") for v in sample),
            args=req_dict(data, "args", where) if "args" in data else {},
            inputs=req_str(data, "inputs", where) if "inputs" in data else "",
            in_dtypes=tuple(_strs_list(data, "in_dtypes", where)),
        )
