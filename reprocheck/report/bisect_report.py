"""A lockfile bisection, rendered: text for people, JSON for tools, markdown for a CI summary.

Each names the culprit group(s) with their versions and the drift they cause (scenario,
first divergence, kind, evidence), then every environment tried with the pins it took from
NEW, its verdict and time.
"""

from __future__ import annotations

import json
from typing import Any

from reprocheck.model.bisect import BisectResult, Change, Culprit, Trial

__all__ = ["BISECT_FORMATS", "render_bisect"]

BISECT_FORMATS = ("text", "json", "markdown")
_SHOWN = 4  # changes listed per group in text before "and N more"
_HEADLINE = {
    "no_drift": "no drift",
    "culprit": "culprit found",
    "interaction": "interaction",
    "incomplete": "incomplete",
}


def render_bisect(result: BisectResult, fmt: str = "text") -> str:
    """``result`` in ``fmt`` (text, json or markdown)."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, sort_keys=False) + "\n"
    if fmt == "markdown":
        return _markdown(result)
    if fmt == "text":
        return _text(result)
    raise ValueError(f"unknown bisect format {fmt!r}; expected one of {', '.join(BISECT_FORMATS)}")


def _divergence(first: dict[str, Any] | None) -> str:
    if not first:
        return "no step-level divergence recorded"
    where = f"step {first.get('step')} ({first.get('phase')}) at {first.get('location')}"
    if first.get("operator"):
        where += f", operator {first['operator']}"
    if first.get("kind"):
        where += f"; kind: {first['kind']}"
    if first.get("detail"):
        where += f"; evidence: {first['detail']}"
    return where


def _culprit_lines(culprit: Culprit) -> list[str]:
    lines = [f"  {g.lead}" + (f" ({g.note})" if g.note else "") for g in culprit.groups]
    packages = culprit.packages
    lines += [f"    {c.text}" for c in packages[:_SHOWN]]
    if len(packages) > _SHOWN:
        lines.append(f"    and {len(packages) - _SHOWN} more pins only it needs (all in the JSON)")
    if culprit.drift is not None:
        scenario = culprit.drift.scenario or "(all scenarios)"
        lines.append(f"    drift in {scenario}: {_divergence(culprit.drift.first_divergence)}")
    if not culprit.confirmed:
        lines.append("    (not confirmed alone: see the verdict)")
    return lines


def _changes(changes: tuple[Change, ...]) -> str:
    shown = ", ".join(c.text for c in changes[:_SHOWN])
    return shown + (f", and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else "")


def _trial_line(trial: Trial) -> str:
    pins = _moved(trial)
    reused = ", reused" if trial.reused else ""
    line = f"  {trial.label:<28} {trial.verdict:<10} {trial.seconds:6.0f} s{reused}  {pins}"
    return line + (f"\n      {trial.message}" if trial.message else "")


def _moved(trial: Trial) -> str:
    """The pins a trial took from NEW: every one when few, else the groups and a count."""
    if not trial.pins:
        return "(OLD's pins)"
    if len(trial.pins) <= _SHOWN:
        return ", ".join(c.text for c in trial.pins)
    return f"{' + '.join(trial.moved)} from NEW ({len(trial.pins)} pins)"


def _text(result: BisectResult) -> str:
    lines = [
        f"bisect {result.baseline} -> {result.candidate}: {_HEADLINE[result.verdict]}",
        f"  {result.summary}",
        "",
    ]
    if result.culprits:
        lines.append("culprit(s):")
        for culprit in result.culprits:
            lines += _culprit_lines(culprit)
        lines.append("")
    lines.append(f"groups of changes ({len(result.groups)}):")
    for group in result.groups:
        note = f"  [{group.note}]" if group.note else ""
        lines.append(f"  {group.lead} ({len(group.changes)}): {_changes(group.changes)}{note}")
    lines += ["", f"environments tried ({result.built}):"]
    lines += [_trial_line(t) for t in result.trials]
    if result.failure:
        lines += ["", f"environment failure: {result.failure}"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(result: BisectResult) -> str:
    lines = [
        f"### reprocheck bisect: {_HEADLINE[result.verdict]}",
        "",
        f"`{result.baseline}` → `{result.candidate}`: {_cell(result.summary)}",
        "",
    ]
    for culprit in result.culprits:
        names = ", ".join(f"`{c.text}`" for c in culprit.packages)
        first = culprit.drift.first_divergence if culprit.drift else None
        lines.append(f"- **{' + '.join(g.lead for g in culprit.groups)}**: {names}")
        lines.append(f"  - drift: {_cell(_divergence(first))}")
    lines += ["", "| environment | pins from NEW | verdict | time |", "|---|---|---|---|"]
    for trial in result.trials:
        pins = _moved(trial)
        seconds = f"{trial.seconds:.0f} s" + (" (reused)" if trial.reused else "")
        lines.append(f"| {_cell(trial.label)} | {_cell(pins)} | {trial.verdict} | {seconds} |")
    if result.failure:
        lines += ["", f"**environment failure:** {_cell(result.failure)}"]
    return "\n".join(lines) + "\n"
