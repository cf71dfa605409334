"""Plain-text report: a table read at a glance, the environment changes, the verdict line.

Colour only when asked (the CLI asks on a terminal without ``NO_COLOR``); the text is the
same with or without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from reprocheck.comparison.result import ComparisonResult, EnvChange, ScenarioComparison

if TYPE_CHECKING:
    from reprocheck.comparison.numerics import TensorDiff

__all__ = [
    "ENV_LIMIT",
    "divergence_cell",
    "env_value",
    "metric_line",
    "number_text",
    "render_text",
    "tensor_line",
    "ulp_text",
]

#: How many environment changes the text and markdown reports list (JSON lists all).
ENV_LIMIT = 10
# ANSI SGR codes (green, yellow, bold red): the core does not import click to paint.
_COLOURS = {"identical": "32", "within_tolerance": "33", "drift": "1;31"}


def env_value(value: Any) -> str:
    """A fingerprint value in a few characters: ``(none)`` for missing, lists comma-joined."""
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def divergence_cell(s: ScenarioComparison) -> str:
    """``step 0 forward transformer.encoder.0.dropout (aten.native_dropout.default)``."""
    fd = s.first_divergence
    if fd is None:
        return "-"
    text = f"step {fd.step} {fd.phase} {fd.location}"
    if fd.operator:
        text += f" ({fd.operator})"
    return text


def evidence_line(s: ScenarioComparison) -> str | None:
    """``evidence: eps 1e-05 → 1e-06 in blocks.0.ln1 (...)``: why the kind is what it is."""
    fd = s.first_divergence
    if fd is None or fd.evidence is None:
        return None
    return f"evidence: {fd.evidence.text}"


def ulp_text(value: int | None) -> str:
    """A ULP count for a table cell: exact up to a million, then ``1.66e+09``."""
    if value is None:
        return "-"
    return str(value) if value < 1_000_000 else f"{value:.3g}"


def number_text(value: float | None) -> str:
    """A measured number as the reports print it: three significant digits, ``-`` for none."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"


def tensor_line(s: ScenarioComparison) -> str | None:
    """One line on the worst final tensor of a scenario, or None when all are equal."""
    if not s.tensors:
        return None
    total = sum(s.tensor_counts.values())
    beyond = sum(
        n
        for status, n in s.tensor_counts.items()
        if status not in ("equal", "within_tolerance", "digest_differs")
    )
    worst = s.tensors[0]
    key = worst.key.removeprefix(f"{s.name}/")
    text = (
        f"{len(s.tensors)} of {total} final tensors differ ({beyond} beyond tolerance); "
        f"worst {key}: {worst.status}"
    )
    if worst.status == "nan_mismatch":
        # NaN on one side has no distance: say how many, then how far the rest moved.
        text += f", {worst.nan_mismatch} of {worst.numel} element(s) NaN on one side only"
        if worst.max_abs:
            text += f"; elsewhere max abs {number_text(worst.max_abs)}"
    elif worst.status in ("within_tolerance", "exceeds_tolerance"):
        index = list(worst.max_abs_index) if worst.max_abs_index is not None else "-"
        text += f", max abs {number_text(worst.max_abs)} at {index}"
        text += f", max rel {number_text(worst.max_rel)}"
        if worst.ulp_max is not None:
            text += f", ULP max {ulp_text(worst.ulp_max)} median {number_text(worst.ulp_median)}"
    elif worst.status in ("shape_mismatch", "dtype_mismatch"):
        b_shape, c_shape = list(worst.shape or ()), list(worst.candidate_shape or ())
        text += f" ({worst.dtype}{b_shape} vs {worst.candidate_dtype}{c_shape})"
    return text


def metric_line(scenario: str, m: TensorDiff) -> str:
    """``metric loss: exceeds_tolerance, max rel 0.012 at step 3``."""
    text = f"metric {m.key.removeprefix(scenario + '/')}: {m.status}"
    if m.max_abs_index:
        text += f", max rel {number_text(m.max_rel)} at step {m.max_abs_index[0]}"
    return text


def _growth_line(s: ScenarioComparison) -> str | None:
    if s.trend == "none":
        return None
    values = [g.max_rel for g in s.growth]
    shown = " ".join(number_text(v) for v in values[:8]) + (" ..." if len(values) > 8 else "")
    return f"growth ({s.trend}), largest relative difference per step: {shown}"


def _table(rows: Sequence[Sequence[str]], style: Callable[[int, str], str]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            style(i, cell.ljust(widths[i])) if n else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _env_lines(changes: Sequence[EnvChange]) -> list[str]:
    if not changes:
        return ["Environment: no change between the two fingerprints."]
    lines = [f"Environment changes ({len(changes)}, most likely to move numbers first):"]
    width = max(len(c.path) for c in changes[:ENV_LIMIT])
    lines.extend(
        f"  {c.path.ljust(width)}  {env_value(c.baseline)} → {env_value(c.candidate)}"
        + (" (already in force: not a suspect)" if c.category == "already-in-force" else "")
        for c in changes[:ENV_LIMIT]
    )
    if len(changes) > ENV_LIMIT:
        lines.append(f"  ... and {len(changes) - ENV_LIMIT} more (--format json lists all)")
    return lines


def render_text(result: ComparisonResult, *, color: bool = False) -> str:
    """The report as plain text (ANSI colour on the verdicts when ``color``)."""

    def paint(text: str, verdict: str) -> str:
        if not color or verdict not in _COLOURS:
            return text
        return f"\x1b[{_COLOURS[verdict]}m{text}\x1b[0m"

    lines = [f"reprocheck compare: {result.baseline} → {result.candidate}", ""]
    if result.scenarios:
        rows = [["scenario", "verdict", "kind", "first divergence", "max ULP"]]
        for s in result.scenarios:
            ulp = ulp_text(s.max_ulp)
            rows.append([s.name, s.verdict, s.kind or "-", divergence_cell(s), ulp])
        lines += _table(rows, lambda i, cell: cell if i != 1 else paint(cell, cell.strip()))
        details = []
        for s in result.scenarios:
            if s.verdict == "identical":
                continue
            extra = [
                line
                for line in (
                    s.nonfinite,
                    s.envelope.text() if s.envelope else None,
                    s.first_divergence.detail if s.first_divergence else None,
                    evidence_line(s),
                    tensor_line(s),
                    *(metric_line(s.name, m) for m in s.metrics[:3]),
                    _growth_line(s),
                    *s.notes,
                )
                if line
            ]
            if s.structural.count:
                extra.append("structural: " + "; ".join(s.structural.examples))
            details.append(f"{s.name}:")
            details += [f"  {line}" for line in extra]
        if details:
            lines += ["", *details]
        lines.append("")
    lines += _env_lines(result.environment)
    lines += ["", paint(result.summary, result.verdict)]
    return "\n".join(lines) + "\n"
