"""The verdict line: one sentence a reviewer reads in ten seconds.

``drift: torch 2.6.0 → 2.13.0; first divergence in aten.native_dropout at step 0, forward,
transformer.encoder.0.dropout (random-stream)``
"""

from __future__ import annotations

from collections.abc import Sequence

from reprocheck.comparison.env_effect import IN_FORCE
from reprocheck.comparison.envdiff import suspect_phrase
from reprocheck.comparison.result import EnvChange, FirstDivergence, ScenarioComparison

__all__ = ["divergence_phrase", "summary_line"]


def divergence_phrase(first: FirstDivergence) -> str:
    """``aten.mm at step 0, forward, mlp.fc1 (rounding)`` or ``at step 3, backward, ...``."""
    where = f"at step {first.step}, {first.phase}, {first.location}"
    if first.operator:
        where = f"in {first.operator.removesuffix('.default')} {where}"
    if first.kind:
        where += f" ({first.kind})"
    return where


def summary_line(
    verdict: str,
    scenarios: Sequence[ScenarioComparison],
    environment: Sequence[EnvChange],
    *,
    mode: str,
) -> str:
    """The verdict, the top environment suspects, and where the first scenario parts."""
    if mode == "fingerprints":
        if not environment:
            return "identical: the environments do not differ"
        suspects = suspect_phrase(list(environment)) or (
            "only variables already in force"
            if all(c.category == IN_FORCE for c in environment)
            else environment[0].path
        )
        return f"drift: {len(environment)} environment change(s); {suspects}"
    differing = [s for s in scenarios if s.verdict != "identical"]
    # Name the scenarios that earned the overall verdict: "drift in cnn, transformer" must
    # not list a scenario that is only within tolerance.
    named = [s for s in differing if s.verdict == verdict]
    head = verdict
    if named and len(named) < len(scenarios):
        head += f" in {', '.join(s.name for s in named)}"
    parts: list[str] = []
    suspects = suspect_phrase(list(environment))
    if verdict == "identical":
        parts.append(f"{len(scenarios)} scenario(s) bitwise equal")
    elif suspects:
        parts.append(suspects)
    elif not environment:
        parts.append("no environment change recorded")
    lead = next((s for s in differing if s.verdict == verdict), None)
    if lead is not None and lead.first_divergence is not None:
        phrase = divergence_phrase(lead.first_divergence)
        prefix = "first divergence" if len(scenarios) == 1 else f"{lead.name} first diverges"
        parts.append(f"{prefix} {phrase}")
    return f"{head}: {'; '.join(parts)}" if parts else head
