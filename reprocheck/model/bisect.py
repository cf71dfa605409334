"""A lockfile bisection as values: the groups of changes, each environment tried, the culprits.

``reprocheck bisect OLD NEW`` moves groups of package changes from OLD to NEW one subset at
a time (:mod:`reprocheck.pinned.bisect_search`); these are its results, which the reports
(:mod:`reprocheck.report.bisect_report`) render. This module sits below the comparison
code, so what a comparison found is kept here as plain values (:class:`Drift`).

Verdicts: ``no_drift`` (OLD and NEW replay alike), ``culprit`` (one or more groups each
move the numbers alone, and NEW without them does not), ``interaction`` (only groups
together move them), ``incomplete`` (an environment could not be built or replayed; what
was learned so far is still reported).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from reprocheck.errors import ExitCode

__all__ = [
    "BisectResult",
    "BisectVerdict",
    "Change",
    "Culprit",
    "Drift",
    "Group",
    "Trial",
]

BisectVerdict = Literal["no_drift", "culprit", "interaction", "incomplete"]
TrialVerdict = Literal["baseline", "no_drift", "drift", "not built", "run failed"]


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One package that differs between the lockfiles (None: absent on that side)."""

    name: str
    baseline: str | None
    candidate: str | None

    @property
    def text(self) -> str:
        """``torch 2.6.0 -> 2.13.0`` (``(absent)`` for an added or removed package)."""
        return f"{self.name} {self.baseline or '(absent)'} -> {self.candidate or '(absent)'}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "baseline": self.baseline, "candidate": self.candidate}


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    """Changes that move together: a package and the pins only it needs (``lead`` names it)."""

    lead: str
    changes: tuple[Change, ...]
    note: str | None = None  # why it was merged with another group, if it was

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.changes)

    @property
    def lead_change(self) -> Change:
        return next((c for c in self.changes if c.name == self.lead), self.changes[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead": self.lead,
            "packages": [c.to_dict() for c in self.changes],
            "note": self.note,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Drift:
    """What moving a group changed, as its comparison with OLD saw it (first drifting scenario)."""

    scenario: str
    summary: str
    first_divergence: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Trial:
    """One environment tried: OLD with ``moved`` groups (by lead) taken from NEW."""

    label: str
    moved: tuple[str, ...]
    pins: tuple[Change, ...]  # the pins that differ from OLD
    verdict: TrialVerdict
    seconds: float
    reused: bool = False
    path: str = ""
    drift: Drift | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "moved": list(self.moved),
            "pins": [c.to_dict() for c in self.pins],
            "verdict": self.verdict,
            "seconds": round(self.seconds, 1),
            "reused": self.reused,
            "path": self.path,
            "drift": self.drift.to_dict() if self.drift else None,
            "message": self.message,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Culprit:
    """Groups that move the numbers: one group alone, or (an interaction) several together."""

    groups: tuple[Group, ...]
    drift: Drift | None
    confirmed: bool  # OLD + it drifts, and NEW without it does not

    @property
    def packages(self) -> tuple[Change, ...]:
        return tuple(c for g in self.groups for c in g.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.lead for g in self.groups],
            "packages": [c.to_dict() for c in self.packages],
            "drift": self.drift.to_dict() if self.drift else None,
            "first_divergence": self.drift.first_divergence if self.drift else None,
            "confirmed": self.confirmed,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class BisectResult:
    """The whole bisection: its verdict, culprits, groups and every environment tried."""

    verdict: BisectVerdict
    baseline: str
    candidate: str
    groups: tuple[Group, ...]
    culprits: tuple[Culprit, ...]
    trials: tuple[Trial, ...]
    summary: str
    failure: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        """0 no drift, 1 culprit or interaction found, 3 an environment failed."""
        if self.verdict == "incomplete":
            return ExitCode.ENVIRONMENT
        return ExitCode.OK if self.verdict == "no_drift" else ExitCode.DRIFT

    @property
    def built(self) -> int:
        """How many distinct environments were tried (built, or reused from the cache)."""
        return len(self.trials)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "summary": self.summary,
            "culprits": [c.to_dict() for c in self.culprits],
            "groups": [g.to_dict() for g in self.groups],
            "environments": [t.to_dict() for t in self.trials],
            "failure": self.failure,
            "exit_code": int(self.exit_code),
        }
