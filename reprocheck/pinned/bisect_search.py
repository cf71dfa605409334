"""Which group of package changes moves the numbers: a binary search over environments.

:func:`bisect` builds OLD and NEW (:mod:`reprocheck.pinned.bisect_envs`), replays into
both and compares NEW's run with OLD's. On drift it searches the groups of changes
(:mod:`reprocheck.pinned.bisect_plan`): each environment tried is OLD with a subset of the
groups taken from NEW, compared with OLD.

The search tries first the groups the replay in OLD imported (a package never imported
rarely moves numbers): a few such groups are tried alone, more are halved. A group is
named a culprit once OLD with it alone drifts; the search ends once NEW with every culprit
reverted no longer drifts, which also clears every other group. Environments are cached by
their pins, so a subset met twice is built once. When only groups together move the
numbers, the verdict is ``interaction`` with the smallest drifting set found; when an
environment cannot be built or replayed, ``incomplete``, with what was learned.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprocheck._log import log
from reprocheck.model.bisect import BisectResult, Change, Culprit, Drift, Group, Trial
from reprocheck.pinned.bisect_envs import (
    BuildFailed,
    EnvBuilder,
    Replay,
    ReplayFailed,
    mixable_groups,
)
from reprocheck.pinned.bisect_plan import BisectPlan, mixed_pins, plan_bisect
from reprocheck.pinned.lockfile import canonical_name

if TYPE_CHECKING:
    from reprocheck.comparison import Policy

__all__ = ["BisectSettings", "bisect"]

Moved = frozenset[str]
_FEW = 3  # at most this many likely groups are tried one by one


@dataclasses.dataclass(frozen=True)
class BisectSettings:
    """How to bisect: where environments are cached, what each replays, the tolerance."""

    replay: Replay
    cache_dir: Path = Path(".reprocheck") / "bisect"
    find_links: tuple[str, ...] = ()
    policy: Policy | None = None


class _Stop(Exception):
    """An environment failed: the bisection ends with what it learned."""


def bisect(old: Path, new: Path, settings: BisectSettings) -> BisectResult:
    """Bisect the package changes between lockfiles ``old`` and ``new``.

    Raises:
        InputError: a lockfile is bad (before anything is built or written).
        EnvironmentFailure: uv is missing.
    """
    plan = plan_bisect(old, new)
    builder = EnvBuilder(settings.cache_dir, python=plan.python, find_links=settings.find_links)
    return _Bisection(plan, builder, settings).run()


class _Bisection:
    def __init__(self, plan: BisectPlan, builder: EnvBuilder, settings: BisectSettings) -> None:
        self.plan, self.builder, self.settings = plan, builder, settings
        self.groups: tuple[Group, ...] = plan.groups
        self.trials: dict[Moved, Trial] = {}
        self.runs = Path(settings.cache_dir) / "runs" / f"{os.getpid()}-{int(time.time())}"
        self.imported: set[str] | None = None
        self.old_run = self.runs / "env-1"
        self.drifting: list[Moved] = []

    # --- the whole bisection ---------------------------------------------------------------

    def run(self) -> BisectResult:
        changes = sum(len(g.changes) for g in self.groups)
        log(f"bisect: {changes} changed package(s) in {len(self.groups)} group(s)", kind="progress")
        try:
            self.groups = mixable_groups(self.plan, self.builder)
            self._try(frozenset())
            if not self._drifts(self._all()):
                return self._result("no_drift", (), "OLD and NEW replay within tolerance")
            return self._search()
        except _Stop as stop:
            return self._incomplete(str(stop))

    def _all(self) -> Moved:
        return frozenset(g.lead for g in self.groups)

    def _search(self) -> BisectResult:
        likely, others = self._likely()
        culprits: list[Group] = []
        if others and len(likely) <= _FEW:
            culprits = [g for g in likely if self._drifts(frozenset([g.lead]))]
            if culprits and not self._drifts(self._without(culprits)):
                return self._found(culprits)
        cleared = {g.lead for g in likely if self._cleared(frozenset([g.lead]))}
        pool = [g for g in (*likely, *others) if g not in culprits and g.lead not in cleared]
        while pool:
            culprit = self._halve(pool)
            if culprit is None:
                break
            culprits.append(culprit)
            pool.remove(culprit)
            if not self._drifts(self._without(culprits)):
                return self._found(culprits)
        return self._interaction(culprits)

    def _likely(self) -> tuple[list[Group], list[Group]]:
        """Groups with a package the OLD replay imported, and the rest (all likely if unknown)."""
        if self.imported is None:
            return list(self.groups), []
        likely = [g for g in self.groups if {canonical_name(n) for n in g.names} & self.imported]
        return likely, [g for g in self.groups if g not in likely]

    def _halve(self, pool: Sequence[Group]) -> Group | None:
        """The group of ``pool`` that drifts alone, by halving; None if the one left does not."""
        left = list(pool)
        while len(left) > 1:
            half = left[: (len(left) + 1) // 2]
            left = half if self._drifts(frozenset(g.lead for g in half)) else left[len(half) :]
        return left[0] if self._drifts(frozenset([left[0].lead])) else None

    def _without(self, groups: Iterable[Group]) -> Moved:
        return self._all() - {g.lead for g in groups}

    # --- one environment -------------------------------------------------------------------

    def _drifts_known(self, moved: Moved) -> bool:
        trial = self.trials.get(moved)
        return trial is not None and trial.verdict == "drift"

    def _cleared(self, moved: Moved) -> bool:
        trial = self.trials.get(moved)
        return trial is not None and trial.verdict == "no_drift"

    def _drifts(self, moved: Moved) -> bool:
        return self._try(moved).verdict == "drift"

    def _label(self, moved: Moved) -> str:
        if not moved:
            return "OLD"
        if moved == self._all():
            return "NEW"
        kept = sorted(self._all() - moved)
        if len(kept) < len(moved):
            return "NEW - " + ", ".join(kept)
        return "OLD + " + ", ".join(sorted(moved))

    def _try(self, moved: Moved) -> Trial:
        """Build, replay and compare the environment with ``moved`` taken from NEW (cached)."""
        if moved in self.trials:
            return self.trials[moved]
        label, groups = self._label(moved), [g for g in self.groups if g.lead in moved]
        pins = mixed_pins(self.plan, groups)
        started = time.monotonic()
        number = len(self.trials) + 1
        log(f"bisect [{number}] {label}: building ({len(pins)} pins)", kind="progress")
        try:
            home, reused = self.builder.build(label, pins)
            if reused:
                log(f"bisect [{number}] {label}: reusing {home}", kind="progress")
            log(f"bisect [{number}] {label}: replaying", kind="progress")
            out = self.runs / f"env-{number}"
            imported = self.builder.replay(label, home, self.settings.replay, out)
        except BuildFailed as exc:
            state = "run failed" if isinstance(exc, ReplayFailed) else "not built"
            failed = Trial(
                label,
                tuple(sorted(moved)),
                _pins(groups),
                state,  # type: ignore[arg-type]
                time.monotonic() - started,
                message=str(exc),
            )
            self.trials[moved] = failed
            raise _Stop(str(exc)) from None
        if not moved:
            self.imported = imported
            self.old_run = out
            trial = Trial(label, (), (), "baseline", time.monotonic() - started, reused, str(home))
        else:
            log(f"bisect [{number}] {label}: comparing with OLD", kind="progress")
            drift = self._compare(out)
            verdict = "drift" if drift is not None else "no_drift"
            trial = Trial(
                label,
                tuple(sorted(moved)),
                _pins(groups),
                verdict,  # type: ignore[arg-type]
                time.monotonic() - started,
                reused,
                str(home),
                drift,
            )
            if drift is not None:
                self.drifting.append(moved)
        log(f"bisect [{number}] {label}: {trial.verdict} ({trial.seconds:.0f} s)", kind="progress")
        self.trials[moved] = trial
        return trial

    def _compare(self, run: Path) -> Drift | None:
        from reprocheck.comparison import compare

        result = compare(self.old_run, run, policy=self.settings.policy)
        if result.verdict != "drift":
            return None
        first = next((s for s in result.scenarios if s.verdict == "drift"), None)
        if first is None:
            return Drift(scenario="", summary=result.summary)
        divergence = first.first_divergence.to_dict() if first.first_divergence else None
        return Drift(first.name, result.summary, divergence)

    # --- verdicts --------------------------------------------------------------------------

    def _found(self, culprits: Sequence[Group]) -> BisectResult:
        named = tuple(
            Culprit((g,), self.trials[frozenset([g.lead])].drift, confirmed=True) for g in culprits
        )
        moves = "; ".join(g.lead_change.text for g in culprits)
        return self._result("culprit", named, f"moves the numbers: {moves}")

    def _interaction(self, culprits: Sequence[Group]) -> BisectResult:
        alone = [
            Culprit((g,), self.trials[frozenset([g.lead])].drift, confirmed=False) for g in culprits
        ]
        rest = self._without(culprits)
        smallest = min((m for m in self.drifting if m <= rest), key=len, default=rest)
        together = tuple(g for g in self.groups if g.lead in smallest)
        trial = self.trials.get(smallest)
        named = (*alone, Culprit(together, trial.drift if trial else None, confirmed=False))
        what = " + ".join(g.lead for g in together)
        return self._result(
            "interaction", named, f"no single group explains the drift: {what} move it together"
        )

    def _incomplete(self, why: str) -> BisectResult:
        known = [g for g in self.groups if self._drifts_known(frozenset([g.lead]))]
        learned = f"; {', '.join(g.lead for g in known)} drift(s) alone" if known else ""
        culprits = tuple(
            Culprit((g,), self.trials[frozenset([g.lead])].drift, confirmed=False) for g in known
        )
        result = self._result("incomplete", culprits, f"stopped: {why}{learned}")
        return dataclasses.replace(result, failure=why)

    def _result(self, verdict: str, culprits: tuple[Culprit, ...], summary: str) -> BisectResult:
        return BisectResult(
            verdict=verdict,  # type: ignore[arg-type]
            baseline=str(self.plan.old.path),
            candidate=str(self.plan.new.path),
            groups=self.groups,
            culprits=culprits,
            trials=tuple(self.trials.values()),
            summary=summary,
        )


def _pins(groups: Iterable[Group]) -> tuple[Change, ...]:
    return tuple(c for g in groups for c in g.changes)
