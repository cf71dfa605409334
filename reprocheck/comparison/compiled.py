"""The note a comparison adds when the two runs differ in what ``torch.compile`` did."""

from __future__ import annotations

from reprocheck.model.records import ScenarioRecord

__all__ = ["compiled_notes"]


def compiled_notes(b: ScenarioRecord, c: ScenarioRecord) -> list[str]:
    """``["compiled: baseline eager; candidate inductor, 1 graph(s), ..."]``, or none.

    None when both ran eager or both compiled alike. A run from before the record kept
    ``compiled`` reads as eager.
    """
    if b.compiled == c.compiled:
        return []
    sides = [f"{side} {_describe(record)}" for side, record in (("baseline", b), ("candidate", c))]
    return ["compiled: " + "; ".join(sides)]


def _describe(record: ScenarioRecord) -> str:
    done = record.compiled
    if done is None:
        return "eager"
    return (
        f"torch.compile {done.backend}, {done.graphs} graph(s), "
        f"{done.graph_breaks} graph break(s), {done.eager_steps} traced step(s) eager"
    )
