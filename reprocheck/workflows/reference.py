"""``check`` has the inputs at hand: judge a changed kernel against a float64 reference.

When the first divergence of a scenario is a call whose arguments and inputs were equal in
both runs but whose output differed, compare of two stored runs can only judge the size of
the difference. ``check`` replays the scenario here, so it replays it once more, copies
that call's inputs (replay.capture), recomputes the call as it ran and in float64
(replay.reference) and lets each side's distance to the exact result decide: both within
rounding of it → ``rounding``; one far → ``computation``, naming the side closer to exact.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reprocheck._log import log
from reprocheck.comparison.align import OpDivergence, align_traces
from reprocheck.comparison.evidence import args_differ, judged_by_reference
from reprocheck.comparison.result import ComparisonResult, ScenarioComparison
from reprocheck.comparison.summary import summary_line
from reprocheck.model.records import ScenarioRecord
from reprocheck.replay.options import ReplayOptions

__all__ = ["with_references"]


def _kernel_change(b: ScenarioRecord, c: ScenarioRecord) -> OpDivergence | None:
    """The first divergence's call when its arguments and inputs are known equal on both sides
    (a factory call such as ``linspace`` has arguments only)."""
    op = align_traces(b.trace, c.trace).first
    if op is None or op.baseline.inputs != op.candidate.inputs:
        return None
    if not op.baseline.inputs and not op.baseline.args:
        return None  # a run from before the trace kept inputs: nothing known equal
    return None if args_differ(op.baseline, op.candidate) else op


def _distances(record: ScenarioRecord, op: OpDivergence) -> dict[str, float] | None:
    from reprocheck.errors import ScenarioError
    from reprocheck.replay.capture import CallKey, CaptureTracer
    from reprocheck.replay.loop import replay
    from reprocheck.replay.reference import reference_distances
    from reprocheck.scenarios import load_scenario

    log(f"recomputing {op.candidate.op} of {record.name} in float64", kind="progress")
    key = CallKey.of(record.trace, op.candidate)
    tracers: list[CaptureTracer] = []

    def factory(root: str) -> CaptureTracer:
        tracers.append(CaptureTracer(root, key))
        return tracers[-1]

    try:
        replay(
            load_scenario(record.name),
            ReplayOptions.for_record(record.config),
            tracer_factory=factory,
        )
    except ScenarioError:
        return None  # an argument the capture cannot hold (a sparse tensor...): no reference
    captured = tracers[0].captured if tracers else None
    return None if captured is None else reference_distances(captured, op.baseline.sample)


def _rejudged(s: ScenarioComparison, b: ScenarioRecord, c: ScenarioRecord) -> ScenarioComparison:
    fd = s.first_divergence
    if fd is None or fd.evidence is None or fd.evidence.basis != "size":
        return s
    if c.config.world_size != 1:
        return s  # a distributed replay: the trace is rank 0's, not recomputed here
    op = _kernel_change(b, c)
    distance = None if op is None else _distances(c, op)
    if op is None or distance is None:
        return s
    kind, evidence = judged_by_reference(op.baseline, distance)
    first = dataclasses.replace(fd, kind=kind, evidence=evidence)
    return dataclasses.replace(s, kind=kind, first_divergence=first)


def with_references(result: ComparisonResult, baseline: Path, candidate: Path) -> ComparisonResult:
    """``result`` with each changed kernel judged against a float64 reference (see above)."""
    from reprocheck.artifacts import runs as store

    if result.mode != "runs" or not any(s.first_divergence for s in result.scenarios):
        return result
    run_b, run_c = store.load_run(baseline), store.load_run(candidate)
    scenarios = tuple(
        _rejudged(s, run_b.records[s.name], run_c.records[s.name]) for s in result.scenarios
    )
    summary = summary_line(result.verdict, scenarios, result.environment, mode=result.mode)
    return dataclasses.replace(result, scenarios=scenarios, summary=summary)
