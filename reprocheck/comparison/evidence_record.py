"""The evidence behind a first divergence's kind, as the report carries it.

``first_divergence.evidence`` in ``compare --format json`` (docs/compare.md):

* ``text``: one line a reader acts on (``eps 1e-05 → 1e-06 in blocks.0.ln1
  (aten.native_layer_norm)``);
* ``changed_arguments``: argument name → ``[baseline, candidate]``;
* ``dtypes``: the input dtypes of each side, where they differ (``baseline``, ``candidate``);
* ``distance_to_float64``: each side's relative distance to a float64 reference of the same
  call on the same inputs (``baseline``, ``candidate``), where one was computed;
* ``basis``: what decided the kind: ``arguments``, ``dtypes``, ``float64-reference``,
  ``random-draw``, ``size`` (the fixed threshold rule: no inputs at hand), ``passed-on``
  (only differences made upstream of the trace), ``records``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reprocheck._schema import decode_float, encode_float, req_dict, req_str
from reprocheck.errors import ArtifactError

__all__ = ["Evidence"]


@dataclasses.dataclass(frozen=True, slots=True)
class Evidence:
    """Why the first divergence has its kind (see the module docstring)."""

    text: str
    basis: str
    changed_arguments: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    dtypes: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    distance_to_float64: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "basis": self.basis,
            "changed_arguments": {k: list(v) for k, v in self.changed_arguments.items()},
            "dtypes": {k: list(v) for k, v in self.dtypes.items()},
            "distance_to_float64": {
                k: encode_float(v) for k, v in self.distance_to_float64.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "evidence") -> Evidence:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object")
        changed = req_dict(data, "changed_arguments", where)
        if not all(isinstance(v, list) and len(v) == 2 for v in changed.values()):
            raise ArtifactError(f"{where}: 'changed_arguments' values must be [old, new]")
        dtypes = req_dict(data, "dtypes", where)
        if not all(isinstance(v, list) for v in dtypes.values()):
            raise ArtifactError(f"{where}: 'dtypes' values must be lists")
        distance = req_dict(data, "distance_to_float64", where)
        return cls(
            text=req_str(data, "text", where),
            basis=req_str(data, "basis", where),
            changed_arguments={str(k): list(v) for k, v in changed.items()},
            dtypes={str(k): [str(d) for d in v] for k, v in dtypes.items()},
            distance_to_float64={
                str(k): decode_float(v, f"{where}.distance_to_float64") for k, v in distance.items()
            },
        )
