"""What a comparison returns: plain, frozen values with ``to_dict``.

A comparison never raises on drift: the verdict is a value. These types carry everything
the renderers (text, JSON, markdown, JUnit) show, so every renderer tells the same story.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from reprocheck.comparison.numerics import TensorDiff

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "VERDICTS",
    "ComparisonResult",
    "EnvChange",
    "FirstDivergence",
    "GrowthPoint",
    "Kind",
    "ScenarioComparison",
    "Structural",
    "Verdict",
    "worst_verdict",
]

#: Version of the JSON report layout (``compare --format json``).
REPORT_SCHEMA_VERSION = 1

Verdict = Literal["identical", "within_tolerance", "drift"]
VERDICTS: tuple[Verdict, ...] = ("identical", "within_tolerance", "drift")
Kind = Literal["rounding", "random-stream", "computation"]


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The worst of several verdicts (``identical`` for none)."""
    return max(verdicts, key=VERDICTS.index, default="identical")


def _json_float(value: float | None) -> float | str | None:
    # JSON has no NaN or infinity; write them as strings like the artifact does.
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class EnvChange:
    """One difference between the two fingerprints.

    Attributes:
        path: dotted path in the fingerprint, e.g. ``torch.version`` or ``packages.numpy``.
        baseline: the value in the baseline (``None`` where the baseline lacks it).
        candidate: the value in the candidate (``None`` where the candidate lacks it).
        category: why it ranks where it does, e.g. ``torch``, ``blas``, ``threads``.
    """

    path: str
    baseline: Any
    candidate: Any
    category: str = "other"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "baseline": _json_value(self.baseline),
            "candidate": _json_value(self.candidate),
            "category": self.category,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvChange:
        return cls(
            path=str(data["path"]),
            baseline=data.get("baseline"),
            candidate=data.get("candidate"),
            category=str(data.get("category", "other")),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FirstDivergence:
    """Where two runs of one scenario first part.

    Attributes:
        step: the training step (the scenario's build counts as step 0, phase ``init``).
        phase: ``init``, ``forward``, ``backward``, ``optimizer``, or ``final`` when only
            the saved final tensors differ.
        location: the most specific place: the operator's module path, else the
            parameter (or tensor, metric, ``batch``).
        operator: the first aligned traced operator whose output differs, if traced.
        parameter: the first parameter whose digest differs at that step, if any.
        kind: ``rounding``, ``random-stream`` or ``computation``.
        detail: one line saying how far apart the first differing values are.
    """

    step: int
    phase: str
    location: str
    operator: str | None = None
    parameter: str | None = None
    kind: Kind | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FirstDivergence:
        def opt(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            step=int(data["step"]),
            phase=str(data["phase"]),
            location=str(data["location"]),
            operator=opt("operator"),
            parameter=opt("parameter"),
            kind=data.get("kind"),
            detail=opt("detail"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class GrowthPoint:
    """The largest relative difference at one step, and what it was measured on.

    ``max_rel`` is ``|b - c| / max(|b|, |c|)`` maximised over the loss, the gradient norm,
    the parameter norm and every per-parameter norm of that step (0 when all are equal).
    """

    step: int
    max_rel: float
    worst: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "max_rel": _json_float(self.max_rel), "worst": self.worst}


@dataclasses.dataclass(frozen=True, slots=True)
class Structural:
    """Traced operators present on one side only (an op sequence changed across versions).

    Attributes:
        baseline_only: how many traced calls only the baseline has.
        candidate_only: how many traced calls only the candidate has.
        examples: the first few, as ``"-aten.addmm @ step 0 forward mlp.fc1"`` (``-`` for
            baseline only, ``+`` for candidate only).
    """

    baseline_only: int = 0
    candidate_only: int = 0
    examples: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return self.baseline_only + self.candidate_only

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "baseline_only": self.baseline_only,
            "candidate_only": self.candidate_only,
            "examples": list(self.examples),
        }


@dataclasses.dataclass(frozen=True)
class ScenarioComparison:
    """The comparison of one scenario's two runs.

    Attributes:
        name: the scenario.
        verdict: ``identical`` (bitwise), ``within_tolerance`` or ``drift``.
        kind: the kind of difference (``None`` when identical).
        first_divergence: where the runs first part (``None`` when identical).
        max_ulp: the largest ULP distance over the final tensors (``None`` if none).
        tensors: every final tensor that is not bitwise equal, worst first.
        tensor_counts: how many final tensors have each status.
        metrics: every per-step metric series that is not bitwise equal.
        growth: the largest relative difference per step (see :class:`GrowthPoint`).
        trend: ``none``, ``bounded``, ``growing`` or ``exploding``.
        structural: traced operators on one side only.
        notes: anything else a reader should know, one line each.
    """

    name: str
    verdict: Verdict
    kind: Kind | None = None
    first_divergence: FirstDivergence | None = None
    max_ulp: int | None = None
    tensors: tuple[TensorDiff, ...] = ()
    tensor_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    metrics: tuple[TensorDiff, ...] = ()
    growth: tuple[GrowthPoint, ...] = ()
    trend: str = "none"
    structural: Structural = dataclasses.field(default_factory=Structural)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "kind": self.kind,
            "first_divergence": (
                None if self.first_divergence is None else self.first_divergence.to_dict()
            ),
            "max_ulp": self.max_ulp,
            "tensors": [_json_value(t.to_dict()) for t in self.tensors],
            "tensor_counts": dict(self.tensor_counts),
            "metrics": [_json_value(m.to_dict()) for m in self.metrics],
            "growth": [g.to_dict() for g in self.growth],
            "trend": self.trend,
            "structural": self.structural.to_dict(),
            "notes": list(self.notes),
        }


@dataclasses.dataclass(frozen=True)
class ComparisonResult:
    """The answer to "did the numbers change, where, and what changed with them".

    Attributes:
        verdict: the worst scenario verdict (runs), or ``identical``/``drift`` for two
            fingerprint files (``drift`` when any environment field differs).
        scenarios: one comparison per scenario, in the baseline's order (empty for
            fingerprint files).
        environment: the fingerprint changes, most likely to move numbers first.
        baseline: the baseline path as given.
        candidate: the candidate path as given.
        mode: ``runs`` or ``fingerprints``.
        summary: the verdict line, e.g. ``drift: torch 2.6.0 → 2.13.0; first divergence
            in aten.native_dropout at step 0, forward, ... (random-stream)``.
    """

    verdict: Verdict
    scenarios: tuple[ScenarioComparison, ...]
    environment: tuple[EnvChange, ...]
    baseline: str
    candidate: str
    mode: Literal["runs", "fingerprints"] = "runs"
    summary: str = ""
    schema_version: int = REPORT_SCHEMA_VERSION

    @property
    def exit_code(self) -> int:
        """0 identical or within tolerance, 1 drift."""
        return 1 if self.verdict == "drift" else 0

    def scenario(self, name: str) -> ScenarioComparison:
        """The comparison of scenario ``name`` (KeyError if absent)."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": "reprocheck-comparison",
            "mode": self.mode,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "verdict": self.verdict,
            "summary": self.summary,
            "scenarios": [s.to_dict() for s in self.scenarios],
            "environment": [e.to_dict() for e in self.environment],
        }
