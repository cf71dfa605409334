"""Compare two runs (or two fingerprint files): the entry point :func:`compare`.

Per scenario: the per-step metrics as series, the init and per-step digests, the op
trace, and the final tensors one at a time (memory stays bounded by the largest tensor).
Artifacts are only read, never executed: compare never imports a scenario an artifact
names (only ``reprocheck check`` replays, by design).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reprocheck.comparison.classify import growth_of, trend_of
from reprocheck.comparison.compiled import compiled_notes
from reprocheck.comparison.envdiff import diff_fingerprints
from reprocheck.comparison.final_tensors import compare_final_tensors
from reprocheck.comparison.localize import align_traces, locate, record_divergence
from reprocheck.comparison.nonfinite import nonfinite_line
from reprocheck.comparison.pairing import pair_notes, paired_runs, parse_pairs
from reprocheck.comparison.result import (
    ComparisonResult,
    ScenarioComparison,
    Verdict,
    worst_verdict,
)
from reprocheck.comparison.summary import summary_line
from reprocheck.errors import ArtifactError
from reprocheck.model.formats import MANIFEST
from reprocheck.model.records import ScenarioRecord

if TYPE_CHECKING:
    import torch

    from reprocheck.artifacts.runs import Run
    from reprocheck.comparison.numerics import TensorDiff
    from reprocheck.comparison.policy import Policy

__all__ = ["compare", "compare_scenario", "nonfinite_line"]

_SAME = "Compare runs of the same scenarios with the same --seed, --steps and --device."
# digest_differs: a lean run kept only the digest; the final tensor differs bitwise, and
# how far is judged by the per-step records (a note says so).
_OK_STATUSES = ("equal", "within_tolerance", "digest_differs")


def _artifact_kind(path: Path) -> tuple[Literal["run", "fingerprint"], Path]:
    if not path.exists():
        raise ArtifactError(
            f"{path} does not exist",
            hint="Give a run directory (`reprocheck run --out DIR`) or a fingerprint file.",
        )
    if path.is_dir():
        return "run", path
    if path.name == MANIFEST:  # the manifest names its run directory
        return "run", path.parent
    return "fingerprint", path


def compare(
    baseline: Path | str,
    candidate: Path | str,
    *,
    policy: Policy | None = None,
    pairs: Sequence[str] = (),
) -> ComparisonResult:
    """Compare two runs, or two fingerprint files.

    Args:
        baseline: a run directory (``reprocheck run --out DIR``) or a fingerprint JSON file.
        candidate: the same kind of artifact, from the environment under test.
        policy: the tolerance policy; the ``default`` preset when None.
        pairs: ``"A=B"`` each: compare scenario A of the baseline with B of the candidate
            (comparison.pairing); only the paired scenarios are compared.

    Returns:
        The result, whatever it says: drift is a value, never an exception.

    Raises:
        ArtifactError: a missing, corrupt or inconsistent artifact; a run compared with a
            fingerprint file; runs of different scenarios or configurations.
        InputError: a malformed pair, or one naming a scenario a run does not hold.
    """
    from reprocheck.artifacts import runs as store
    from reprocheck.comparison.calibrated import judge_envelopes

    kind_b, path_b = _artifact_kind(Path(baseline))
    kind_c, path_c = _artifact_kind(Path(candidate))
    if kind_b != kind_c:
        raise ArtifactError(
            f"cannot compare a {kind_b} ({baseline}) with a {kind_c} ({candidate})",
            hint="Compare two run directories, or two fingerprint files.",
        )
    if kind_b == "fingerprint":
        return _compare_fingerprints(path_b, path_c, baseline=baseline, candidate=candidate)
    if policy is None:
        from reprocheck.comparison.policy import Policy

        policy = Policy.from_preset("default")
    mapping = parse_pairs(pairs)
    run_b, run_c = paired_runs(store.load_run(path_b), store.load_run(path_c), mapping)
    _check_same_scenarios(run_b, run_c)
    env = tuple(diff_fingerprints(run_b.fingerprint, run_c.fingerprint))
    scenarios = pair_notes(
        tuple(compare_scenario(name, run_b, run_c, policy) for name in run_b.records), mapping
    )
    scenarios = judge_envelopes(path_b, run_b, run_c, scenarios, _without_norm_noise)
    verdict = worst_verdict([s.verdict for s in scenarios])
    return ComparisonResult(
        verdict=verdict,
        scenarios=scenarios,
        environment=env,
        baseline=str(baseline),
        candidate=str(candidate),
        mode="runs",
        summary=summary_line(verdict, scenarios, env, mode="runs"),
    )


def _compare_fingerprints(
    path_b: Path, path_c: Path, *, baseline: Path | str, candidate: Path | str
) -> ComparisonResult:
    """Two fingerprint files: drift when any field differs."""
    from reprocheck.artifacts.runs import load_fingerprint_file

    env = tuple(diff_fingerprints(load_fingerprint_file(path_b), load_fingerprint_file(path_c)))
    verdict: Verdict = "drift" if env else "identical"
    return ComparisonResult(
        verdict=verdict,
        scenarios=(),
        environment=env,
        baseline=str(baseline),
        candidate=str(candidate),
        mode="fingerprints",
        summary=summary_line(verdict, (), env, mode="fingerprints"),
    )


def _check_same_scenarios(run_b: Run, run_c: Run) -> None:
    only_b = [n for n in run_b.records if n not in run_c.records]
    only_c = [n for n in run_c.records if n not in run_b.records]
    if only_b or only_c:
        parts = []
        if only_b:
            parts.append(f"only the baseline has {', '.join(only_b)}")
        if only_c:
            parts.append(f"only the candidate has {', '.join(only_c)}")
        raise ArtifactError(
            f"the runs hold different scenarios: {'; '.join(parts)}",
            hint="Run the same scenarios in both environments (or use `reprocheck check`); "
            "to compare differently named scenarios, pass --pair BASELINE_NAME=CANDIDATE_NAME.",
        )
    for name, b in run_b.records.items():
        c = run_c.records[name]
        for field in ("seed", "steps", "device", "dtype"):
            vb, vc = getattr(b.config, field), getattr(c.config, field)
            if vb != vc:
                raise ArtifactError(
                    f"scenario {name!r} ran with {field} {vb!r} in the baseline "
                    f"and {vc!r} in the candidate",
                    hint=_SAME,
                )
        for record, path in ((b, run_b.path), (c, run_c.path)):
            if len(record.steps) != record.config.steps:
                raise ArtifactError(
                    f"{path}: scenario {name!r} records {len(record.steps)} steps, "
                    f"its config says {record.config.steps}"
                )


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _series(record: ScenarioRecord) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "loss": [s.loss for s in record.steps],
        "grad_norm": [s.grad_norm for s in record.steps],
        "param_norm": [s.param_norm for s in record.steps],
        "lr": [s.lr for s in record.steps],
    }
    names: list[str] = []
    for s in record.steps:
        names.extend(m for m in s.metrics if m not in names)
    for m in names:
        out[f"metrics/{m}"] = [s.metrics.get(m, math.nan) for s in record.steps]
    return out


def _compare_metrics(
    name: str, b: ScenarioRecord, c: ScenarioRecord, policy: Policy
) -> list[TensorDiff]:
    import torch

    from reprocheck.comparison.numerics import compare_tensors, missing

    sb, sc = _series(b), _series(c)
    diffs: list[TensorDiff] = []
    for key in list(sb) + [k for k in sc if k not in sb]:
        full = f"{name}/{key}"
        tolerance = policy.tolerance_for_metric(full)
        if key not in sb or key not in sc:
            side: Literal["baseline", "candidate"] = "candidate" if key not in sc else "baseline"
            diffs.append(missing(full, side, dtype="float64", tolerance=tolerance))
            continue
        # Metrics are recorded as Python floats: compare them as series, one element per
        # step (so max_abs_index names the step), in the dtype they were computed in, so a
        # metric's ULP distance means what a tensor's does.
        tb = torch.tensor(sb[key], dtype=torch.float64)
        tc = torch.tensor(sc[key], dtype=torch.float64)
        dtype = metric_dtype(tb, tc)
        diffs.append(compare_tensors(full, tb.to(dtype), tc.to(dtype), tolerance))
    return diffs


def metric_dtype(*series: torch.Tensor) -> torch.dtype:
    """The narrowest float dtype that holds every value of ``series`` (float64) exactly.

    A metric computed in float32 (a loss, a norm) and stored as a Python float is exactly
    a float32 value; one computed in bfloat16 is exactly a bfloat16 value. Judged over
    the whole series of both runs, that names the dtype it was computed in (a float32
    series that happens to be exact in bfloat16 would need every value to be).
    """
    import torch

    values = torch.cat([s.reshape(-1) for s in series])
    finite = values[torch.isfinite(values)]
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        info = torch.finfo(dtype)
        if finite.numel() and finite.abs().max() > info.max:
            continue
        if torch.equal(finite.to(dtype).to(torch.float64), finite):
            return dtype
    return torch.float64


def _scenario_verdict(diffs: list[TensorDiff], any_difference: bool) -> Verdict:
    if any(d.status not in _OK_STATUSES for d in diffs):
        return "drift"
    if any_difference or any(d.status != "equal" for d in diffs):
        return "within_tolerance"
    return "identical"


def _without_norm_noise(b: ScenarioRecord, c: ScenarioRecord) -> ScenarioRecord:
    """The candidate with norms of bitwise-equal tensors set to the baseline's values.

    Norms are computed from tensors whose digests are recorded too. Where those digests
    agree the tensors are bitwise equal, and a different norm only says that the two
    torch versions sum a norm in another order (seen: torch 2.6 vs 2.13 on equal mlp
    gradients). That is the recording's arithmetic, not drift, so it must not count.
    """
    steps = []
    for sb, sc in zip(b.steps, c.steps, strict=False):
        changes: dict[str, Any] = {}
        if sb.grad_digests == sc.grad_digests:
            changes["grad_norm"] = sb.grad_norm
        if sb.param_digests == sc.param_digests:
            changes["param_norm"] = sb.param_norm
        norms = {
            k: sb.param_norms[k]
            if k in sb.param_norms and sb.param_digests.get(k) == sc.param_digests.get(k)
            else v
            for k, v in sc.param_norms.items()
        }
        if norms != sc.param_norms:
            changes["param_norms"] = norms
        steps.append(dataclasses.replace(sc, **changes) if changes else sc)
    steps.extend(c.steps[len(steps) :])
    return dataclasses.replace(c, steps=tuple(steps))


def compare_scenario(name: str, run_b: Run, run_c: Run, policy: Policy) -> ScenarioComparison:
    """Compare one scenario present in both runs."""
    b, c = run_b.records[name], run_c.records[name]
    c = _without_norm_noise(b, c)
    tensors, by_digest = compare_final_tensors(name, run_b, run_c, c, policy)
    metrics = _compare_metrics(name, b, c, policy)
    alignment = align_traces(b.trace, c.trace)
    rec = record_divergence(b, c)
    growth = growth_of(b, c)
    changed_tensors = sorted((d for d in tensors if d.status != "equal"), key=_severity)
    changed_metrics = [d for d in metrics if d.status != "equal"]
    traced = alignment.first is not None or alignment.passed_on is not None
    verdict = _scenario_verdict(tensors + metrics, rec is not None or traced)
    nonfinite = nonfinite_line(b, c)
    if nonfinite is not None:
        verdict = "drift"
    first = locate(
        baseline=b,
        candidate=c,
        alignment=alignment,
        record=rec,
        growth=growth,
        changed_tensors=changed_tensors,
    )
    kind = None if first is None else first.kind
    notes: list[str] = []
    if first is not None and first.phase == "final":
        notes.append("only the saved final tensors differ; every per-step record agrees")
    if alignment.structural.count:
        notes.append(
            f"{alignment.structural.count} traced operator call(s) on one side only "
            "(the operator sequence changed)"
        )
    if first is not None and first.phase != "final" and not (changed_tensors or changed_metrics):
        notes.append("traced outputs differ but every recorded number agrees")
    notes.extend(_lean_notes(by_digest, run_b, run_c))
    notes.extend(compiled_notes(b, c))
    for side, record in (("baseline", b), ("candidate", c)):
        if not all(record.ranks_agree):  # distributed runs only; empty means one process
            notes.append(
                f"in the {side}, the ranks' parameters disagree from step "
                f"{record.ranks_agree.index(False)} (only rank 0's were kept)"
            )
    ulps = [d.ulp_max for d in tensors if d.ulp_max is not None]
    return ScenarioComparison(
        name=name,
        verdict=verdict,
        kind=kind if verdict != "identical" else None,
        first_divergence=first if verdict != "identical" else None,
        max_ulp=max(ulps) if ulps else None,
        tensors=tuple(changed_tensors),
        tensor_counts=_counts(tensors),
        metrics=tuple(changed_metrics),
        growth=growth,
        trend=trend_of(growth),
        structural=alignment.structural,
        notes=tuple(notes),
        nonfinite=nonfinite,
    )


def _lean_notes(by_digest: int, run_b: Run, run_c: Run) -> list[str]:
    if not by_digest:
        return []
    keep = run_b.keep if run_b.keep != "all" else run_c.keep
    return [f"{by_digest} final tensor(s) compared by digest only, bitwise (--keep {keep})"]


def _severity(diff: TensorDiff) -> tuple[int, float]:
    bad = 0 if diff.status not in _OK_STATUSES else 1
    ulp = float(diff.ulp_max) if diff.ulp_max is not None else math.inf
    return bad, -ulp


def _counts(diffs: list[TensorDiff]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in diffs:
        counts[d.status] = counts.get(d.status, 0) + 1
    return counts
