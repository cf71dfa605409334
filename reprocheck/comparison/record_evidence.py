"""Evidence for a first divergence found in the per-step records (no traced operator).

A different batch is a changed data stream (``random-stream`` at ``batch``); a different
recorded learning rate (any param group) is a ``computation`` at ``lr``; elsewhere (untraced
steps, init) the size of the difference decides, and the evidence says so.
"""

from __future__ import annotations

from reprocheck.comparison.evidence import show_value
from reprocheck.comparison.evidence_record import Evidence
from reprocheck.comparison.result import Kind
from reprocheck.model.records import ScenarioRecord, StepRecord

__all__ = ["record_evidence"]


def _step(record: ScenarioRecord, step: int) -> StepRecord | None:
    return next((s for s in record.steps if s.step == step), None)


def _lr_text(location: str, b: StepRecord, c: StepRecord) -> tuple[str, dict[str, list[float]]]:
    if location.startswith("lrs[") and b.lrs and c.lrs:
        group = int(location[4:-1])
        old, new = b.lrs[group], c.lrs[group]
    else:
        group, old, new = 0, b.lr, c.lr
    text = (
        f"learning rate {show_value(old)} → {show_value(new)} (param group {group}) at step "
        f"{b.step}: a changed learning rate is a computation change"
    )
    return text, {f"lr[{group}]": [old, new]}


def record_evidence(
    location: str, step: int, kind: Kind, baseline: ScenarioRecord, candidate: ScenarioRecord
) -> Evidence:
    """Why a divergence first seen in the records at ``location``, ``step`` has ``kind``."""
    b, c = _step(baseline, step), _step(candidate, step)
    if location == "batch":
        text = (
            f"the batch of step {step} differs (another data order or content): a changed "
            "data stream is a random-stream change"
        )
        return Evidence(text, "records")
    if location.startswith("lr") and b is not None and c is not None:
        text, changed = _lr_text(location, b, c)
        return Evidence(text, "records", changed_arguments=dict(changed))
    where = "at init (the initialisers are not traced)" if step == 0 and b is None else ""
    text = (
        f"{location} differs first at step {step} {where}".rstrip()
        + f"; no traced operator explains it, so judged by size: {kind}"
    )
    return Evidence(text, "size")
