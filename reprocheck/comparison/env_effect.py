"""Which environment changes can matter: duplicates folded, no-op requests set aside.

* One change is listed once: ``cpu.aten_cpu_capability_env`` repeats
  ``env.ATEN_CPU_CAPABILITY`` (the allow-listed variable) and is left out when both differ.
* A variable that asks for what is already in force (``ATEN_CPU_CAPABILITY=avx2`` on a CPU
  whose native level is AVX2, ``OMP_NUM_THREADS=2`` where 2 is the default) is listed, with
  the category :data:`IN_FORCE`, but is not a suspect: the in-process value it sets (the
  dispatch level, the thread count) is the same on both sides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from reprocheck.comparison.result import EnvChange

__all__ = ["IN_FORCE", "refine"]

#: Category of a variable change whose in-process value is the same on both sides.
IN_FORCE = "already-in-force"

# An alias → the path that says the same thing (the alias is dropped when both differ).
_ALIASES = {"cpu.aten_cpu_capability_env": "env.aten_cpu_capability"}
# A variable (lower-cased path) → the in-process values it sets.
_SETS: dict[str, tuple[str, ...]] = {
    "env.aten_cpu_capability": ("cpu.capability",),
    "cpu.aten_cpu_capability_env": ("cpu.capability",),
    "env.omp_num_threads": ("threads.intra_op", "threads.omp_max"),
    "env.mkl_num_threads": ("threads.mkl_max",),
    "env.openblas_num_threads": ("threads.intra_op",),
}


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _in_force(path: str, baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
    targets = _SETS.get(path.lower())
    if not targets:
        return False
    pairs = [(_lookup(baseline, t), _lookup(candidate, t)) for t in targets]
    known = [(b, c) for b, c in pairs if b is not None or c is not None]
    return bool(known) and all(b == c for b, c in known)


def refine(
    changes: Sequence[EnvChange], baseline: Mapping[str, Any], candidate: Mapping[str, Any]
) -> list[EnvChange]:
    """``changes`` with aliases folded and no-op requests marked :data:`IN_FORCE`."""
    present = {c.path.lower() for c in changes}
    out: list[EnvChange] = []
    for change in changes:
        if _ALIASES.get(change.path.lower()) in present:
            continue
        in_force = _in_force(change.path, baseline, candidate)
        out.append(dataclasses.replace(change, category=IN_FORCE) if in_force else change)
    return out
