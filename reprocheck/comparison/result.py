"""What a comparison returns: plain, frozen values with ``to_dict`` and ``from_dict``.

A comparison never raises on drift: the verdict is a value. These types carry everything
the renderers (text, JSON, markdown, JUnit) show. ``from_dict(to_dict(x)) == x`` for every
type here (NaN aside), and ``from_dict`` rejects a malformed document with an
:class:`ArtifactError` naming the key; ``to_dict`` is the ``compare --format json`` layout.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, TypeVar, get_args

from reprocheck._schema import encode_float, req, req_dict, req_float, req_int, req_str
from reprocheck.comparison._fields import (
    json_value,
    read_choice,
    read_items,
    read_nested,
    read_opt_str,
    read_strs,
)
from reprocheck.comparison.envelope import EnvelopeJudgement
from reprocheck.comparison.evidence_record import Evidence
from reprocheck.comparison.numerics import TensorDiff
from reprocheck.errors import ArtifactError, ExitCode, SchemaVersionError

__all__ = [
    "COMPARISON_KIND",
    "REPORT_SCHEMA_VERSION",
    "VERDICTS",
    "ComparisonResult",
    "EnvChange",
    "FirstDivergence",
    "GrowthPoint",
    "Kind",
    "Mode",
    "ScenarioComparison",
    "Structural",
    "Verdict",
    "worst_verdict",
]

#: Version of the JSON report layout (``compare --format json``).
REPORT_SCHEMA_VERSION = 1
#: ``kind`` of the JSON report.
COMPARISON_KIND = "reprocheck-comparison"

Verdict = Literal["identical", "within_tolerance", "drift"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
Kind = Literal["rounding", "random-stream", "computation"]
Mode = Literal["runs", "fingerprints"]
T = TypeVar("T")


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The worst of several verdicts (``identical`` for none)."""
    return max(verdicts, key=VERDICTS.index, default="identical")


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
            "baseline": json_value(self.baseline),
            "candidate": json_value(self.candidate),
            "category": self.category,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "environment change") -> EnvChange:
        """Inverse of :meth:`to_dict` (the values stay as JSON has them)."""
        return cls(
            path=req_str(data, "path", where),
            baseline=req(data, "baseline", object, where),
            candidate=req(data, "candidate", object, where),
            category=req_str(data, "category", where),
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
        evidence: why the kind is what it is (comparison.evidence_record); None for
            results from before it was recorded.
    """

    step: int
    phase: str
    location: str
    operator: str | None = None
    parameter: str | None = None
    kind: Kind | None = None
    detail: str | None = None
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["evidence"] = None if self.evidence is None else self.evidence.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "first_divergence") -> FirstDivergence:
        """Inverse of :meth:`to_dict`."""
        return cls(
            step=req_int(data, "step", where, minimum=0),
            phase=req_str(data, "phase", where),
            location=req_str(data, "location", where),
            operator=read_opt_str(data, "operator", where),
            parameter=read_opt_str(data, "parameter", where),
            kind=read_choice(data, "kind", where, get_args(Kind), null=True),
            detail=read_opt_str(data, "detail", where),
            evidence=read_nested(Evidence, data, "evidence", where),
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
        return {"step": self.step, "max_rel": encode_float(self.max_rel), "worst": self.worst}

    @classmethod
    def from_dict(cls, data: Any, where: str = "growth") -> GrowthPoint:
        """Inverse of :meth:`to_dict`."""
        return cls(
            step=req_int(data, "step", where, minimum=0),
            max_rel=req_float(data, "max_rel", where),
            worst=read_opt_str(data, "worst", where),
        )


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

    @classmethod
    def from_dict(cls, data: Any, where: str = "structural") -> Structural:
        """Inverse of :meth:`to_dict` (``count`` is derived, so not read)."""
        return cls(
            baseline_only=req_int(data, "baseline_only", where, minimum=0),
            candidate_only=req_int(data, "candidate_only", where, minimum=0),
            examples=read_strs(data, "examples", where),
        )


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
        nonfinite: when the runs went non-finite (NaN or infinity in the loss, a gradient
            or a parameter) at different steps or only one of them did, the line that says
            so (``candidate: loss non-finite from step 4; baseline finite``); the verdict
            is then drift. None otherwise.
        envelope: how the difference compares with the baseline's calibrated rounding
            envelope (``reprocheck calibrate``), which then decided the verdict; None
            when the baseline has no envelope or the runs are identical.
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
    nonfinite: str | None = None
    envelope: EnvelopeJudgement | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "kind": self.kind,
            "first_divergence": (
                None if self.first_divergence is None else self.first_divergence.to_dict()
            ),
            "max_ulp": self.max_ulp,
            "tensors": [json_value(t.to_dict()) for t in self.tensors],
            "tensor_counts": dict(self.tensor_counts),
            "metrics": [json_value(m.to_dict()) for m in self.metrics],
            "growth": [g.to_dict() for g in self.growth],
            "trend": self.trend,
            "structural": self.structural.to_dict(),
            "notes": list(self.notes),
            "nonfinite": self.nonfinite,
            "envelope": None if self.envelope is None else self.envelope.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "scenario") -> ScenarioComparison:
        """Inverse of :meth:`to_dict`."""
        first = req(data, "first_divergence", (dict, type(None)), where)
        if first is not None:
            first = FirstDivergence.from_dict(first, f"{where}.first_divergence")
        max_ulp = req(data, "max_ulp", (int, type(None)), where)
        counts = req_dict(data, "tensor_counts", where)
        return cls(
            name=req_str(data, "name", where),
            verdict=read_choice(data, "verdict", where, VERDICTS),
            kind=read_choice(data, "kind", where, get_args(Kind), null=True),
            first_divergence=first,
            max_ulp=None if max_ulp is None else req_int(data, "max_ulp", where),
            tensors=read_items(data, "tensors", where, TensorDiff.from_dict),
            tensor_counts={k: req_int(counts, k, f"{where}.tensor_counts") for k in counts},
            metrics=read_items(data, "metrics", where, TensorDiff.from_dict),
            growth=read_items(data, "growth", where, GrowthPoint.from_dict),
            trend=req_str(data, "trend", where),
            structural=Structural.from_dict(
                req_dict(data, "structural", where), f"{where}.structural"
            ),
            notes=read_strs(data, "notes", where),
            nonfinite=None if data.get("nonfinite") is None else req_str(data, "nonfinite", where),
            envelope=read_nested(EnvelopeJudgement, data, "envelope", where),
        )


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
    mode: Mode = "runs"
    summary: str = ""
    schema_version: int = REPORT_SCHEMA_VERSION

    @property
    def exit_code(self) -> ExitCode:
        """0 identical or within tolerance, 1 drift."""
        return ExitCode.DRIFT if self.verdict == "drift" else ExitCode.OK

    def scenario(self, name: str) -> ScenarioComparison:
        """The comparison of scenario ``name`` (KeyError if absent)."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": COMPARISON_KIND,
            "mode": self.mode,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "verdict": self.verdict,
            "summary": self.summary,
            "scenarios": [s.to_dict() for s in self.scenarios],
            "environment": [e.to_dict() for e in self.environment],
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "comparison") -> ComparisonResult:
        """Inverse of :meth:`to_dict`: a ``compare --format json`` document as a value.

        Raises:
            ArtifactError: not a comparison, or a key is missing or of the wrong type.
            SchemaVersionError: written by a reprocheck with another report layout.
        """
        if req(data, "kind", object, where) != COMPARISON_KIND:
            raise ArtifactError(f"{where}: kind is not {COMPARISON_KIND!r}")
        version = req_int(data, "schema_version", where)
        if version != REPORT_SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where}: report schema_version {version}, this reprocheck reads "
                f"{REPORT_SCHEMA_VERSION}"
            )
        return cls(
            verdict=read_choice(data, "verdict", where, VERDICTS),
            scenarios=read_items(data, "scenarios", where, ScenarioComparison.from_dict),
            environment=read_items(data, "environment", where, EnvChange.from_dict),
            baseline=req_str(data, "baseline", where),
            candidate=req_str(data, "candidate", where),
            mode=read_choice(data, "mode", where, get_args(Mode)),
            summary=req_str(data, "summary", where),
            schema_version=version,
        )
