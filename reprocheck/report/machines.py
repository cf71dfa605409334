"""The machines of a gathered matrix: what hardware each run's machine has that the baseline's
has not (CPU model, instruction sets, dispatch level, GPU, driver).

Printed under the matrix table by ``python -m reprocheck.matrix``, so a column that drifts
next to a hardware change says so at once; the same changes are ranked among the suspects
in each verdict line (:mod:`reprocheck.comparison.envdiff`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reprocheck.comparison.envdiff import is_hardware
from reprocheck.model.matrix import Matrix

if TYPE_CHECKING:
    from reprocheck.comparison.result import ComparisonResult, EnvChange

__all__ = ["hardware_changes", "render_hardware", "render_hardware_markdown"]

_NAMES = {
    "cpu.model": "CPU model",
    "cpu.flags": "ISA",
    "cpu.capability": "CPU capability",
    "cpu.cores": "CPU cores",
    "platform.machine": "architecture",
    "cuda.devices": "GPU",
    "cuda.driver_version": "GPU driver",
    "cuda.driver_cuda_version": "driver CUDA",
}


def _value(value: Any) -> str:
    if value is None or value == []:
        return "(none)"
    if isinstance(value, list):
        names = [v.get("name", "?") if isinstance(v, Mapping) else str(v) for v in value]
        return ", ".join(str(n) for n in names)
    return str(value)


def _phrase(change: EnvChange) -> str:
    name = _NAMES.get(change.path, change.path)
    if change.path == "cpu.flags":  # what only each side has
        return f"{name} -{_value(change.baseline)} +{_value(change.candidate)}"
    return f"{name} {_value(change.baseline)} → {_value(change.candidate)}"


def hardware_changes(result: ComparisonResult) -> list[str]:
    """The hardware differences of one comparison, in words, most likely to matter first."""
    return [_phrase(c) for c in result.environment if is_hardware(c.path)]


def _rows(matrix: Matrix[ComparisonResult]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for cell in matrix.cells:
        if cell.result is None:
            continue
        changes = hardware_changes(cell.result)
        rows.append((cell.env, "; ".join(changes) if changes else "same hardware"))
    return rows


def render_hardware(matrix: Matrix[ComparisonResult]) -> str:
    """``hardware against BASELINE:`` and a line per compared run."""
    rows = _rows(matrix)
    if not rows:
        return ""
    width = max(len(env) for env, _ in rows)
    lines = [f"hardware against {matrix.baseline}:"]
    lines += [f"  {env.ljust(width)}  {text}" for env, text in rows]
    return "\n".join(lines) + "\n"


def render_hardware_markdown(matrix: Matrix[ComparisonResult]) -> str:
    """The same as a markdown list (for ``$GITHUB_STEP_SUMMARY``)."""
    rows = _rows(matrix)
    if not rows:
        return ""
    lines = [f"### Hardware against `{matrix.baseline}`", ""]
    lines += [f"- **{env}**: {text}" for env, text in rows]
    return "\n".join(lines) + "\n"
