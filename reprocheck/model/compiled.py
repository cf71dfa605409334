"""What ``torch.compile`` did in a replay: part of a scenario's record."""

from __future__ import annotations

import dataclasses
from typing import Any

from reprocheck._schema import req_int, req_str
from reprocheck.errors import ArtifactError

__all__ = ["Compiled"]


@dataclasses.dataclass(frozen=True, slots=True)
class Compiled:
    """What ``torch.compile`` did in a replay (dynamo's counters, untraced steps only).

    ``eager_steps``: the traced steps, which ran eager (dynamo skips under the trace).
    """

    backend: str
    graphs: int
    graph_breaks: int
    eager_steps: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Compiled:
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object or null")
        ints = {k: req_int(data, k, where, minimum=0) for k in ("graphs", "graph_breaks")}
        steps = req_int(data, "eager_steps", where, minimum=0)
        return cls(backend=req_str(data, "backend", where), **ints, eager_steps=steps)
