"""Markdown report, made for a CI step summary (``$GITHUB_STEP_SUMMARY``) or a PR comment."""

from __future__ import annotations

from collections.abc import Sequence

from reprocheck.comparison.result import ComparisonResult, EnvChange, ScenarioComparison
from reprocheck.report.text import (
    ENV_LIMIT,
    divergence_cell,
    env_value,
    evidence_line,
    metric_line,
    tensor_line,
    ulp_text,
)

__all__ = ["render_markdown"]

_ICONS = {"identical": "✅", "within_tolerance": "🟡", "drift": "❌"}


def _cell(text: str) -> str:
    # A pipe or a newline would break the table row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(result: ComparisonResult) -> str:
    """The report as GitHub-flavoured markdown: verdict, table, details, environment."""
    icon = _ICONS.get(result.verdict, "")
    lines = [
        f"### reprocheck compare: {icon} {result.verdict}",
        "",
        f"> {_cell(result.summary)}",
        "",
        f"Baseline `{result.baseline}`, candidate `{result.candidate}`.",
        "",
    ]
    if result.scenarios:
        lines += _scenario_table(result.scenarios)
        for s in result.scenarios:
            if s.verdict != "identical":
                lines += _scenario_details(s)
    lines += _environment_section(result.environment)
    return "\n".join(lines)


def _scenario_table(scenarios: Sequence[ScenarioComparison]) -> list[str]:
    """One table row per scenario: verdict, kind, first divergence, largest ULP distance."""
    lines = [
        "| scenario | verdict | kind | first divergence | max ULP |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in scenarios:
        ulp = ulp_text(s.max_ulp)
        lines.append(
            f"| {_cell(s.name)} | {_ICONS[s.verdict]} {s.verdict} | {s.kind or '-'} "
            f"| {_cell(divergence_cell(s))} | {ulp} |"
        )
    lines.append("")
    return lines


def _scenario_details(s: ScenarioComparison) -> list[str]:
    """The facts behind a scenario that is not identical, as a bold name and a list."""
    facts = [
        s.nonfinite,
        s.envelope.text() if s.envelope else None,
        s.first_divergence.detail if s.first_divergence else None,
        evidence_line(s),
        tensor_line(s),
        *(metric_line(s.name, m) for m in s.metrics[:3]),
        f"growth: {s.trend}" if s.trend != "none" else None,
        *s.notes,
    ]
    lines = [f"**{_cell(s.name)}**"]
    lines += [f"- {_cell(f)}" for f in facts if f]
    if s.structural.count:
        shown = ", ".join(f"`{e}`" for e in s.structural.examples)
        lines.append(f"- structural: {s.structural.count} call(s) on one side only: {shown}")
    lines.append("")
    return lines


def _environment_section(changes: Sequence[EnvChange]) -> list[str]:
    """The environment changes, folded in a ``<details>`` block, most likely culprit first."""
    if not changes:
        return ["No environment change between the two fingerprints.", ""]
    lines = [
        "<details><summary>Environment changes "
        f"({len(changes)}, most likely to move numbers first)</summary>",
        "",
        "| path | baseline | candidate |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{_cell(c.path)}` | {_cell(env_value(c.baseline))} | {_cell(env_value(c.candidate))}"
        + (" (already in force)" if c.category == "already-in-force" else "")
        + " |"
        for c in changes[: ENV_LIMIT * 5]
    ]
    if len(changes) > ENV_LIMIT * 5:
        lines.append(f"\n... and {len(changes) - ENV_LIMIT * 5} more.")
    lines += ["", "</details>", ""]
    return lines
