"""Check a scenario or a dict of tensors against a stored baseline (the pytest plugin's core).

Two kinds of baseline, each a directory:

* a scenario baseline is a run directory (:mod:`reprocheck.artifacts.runs`) holding one scenario;
  checking replays the scenario here with the baseline's settings and compares the runs;
* a tensor baseline is a tensor set (:mod:`reprocheck.artifacts.tensorsets`); checking compares the
  given tensors with the saved ones, tensor by tensor.

Both use the tolerance :class:`~reprocheck.comparison.Policy` given. A missing baseline is
recorded and reported as ``recorded`` (the caller decides whether that fails, as the pytest
plugin does); with ``update=True`` a baseline that fails its check (drift, other settings,
unreadable) is re-recorded and reported as ``updated``. A passing baseline is never
rewritten, so updating does not churn files under version control.

Results are values (:class:`BaselineOutcome`); only a check that cannot run raises (a
scenario that cannot be built, tensors that are not tensors).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reprocheck.errors import ArtifactError
from reprocheck.replay.options import ReplayOptions

if TYPE_CHECKING:
    import torch

    from reprocheck.artifacts.runs import Run
    from reprocheck.artifacts.tensorsets import TensorSet
    from reprocheck.comparison.numerics import TensorDiff
    from reprocheck.comparison.policy import Policy
    from reprocheck.comparison.result import ComparisonResult

__all__ = ["BaselineOutcome", "BaselineStatus", "check_scenario", "check_tensors"]

BaselineStatus = Literal["passed", "recorded", "updated", "failed"]
# How many environment changes a tensor failure lists (the full diff is in the fingerprints).
_ENV_LINES = 5


@dataclasses.dataclass(frozen=True)
class BaselineOutcome:
    """What a baseline check found.

    Attributes:
        status: ``passed`` (identical or within tolerance), ``recorded`` (there was no
            baseline: it was written now), ``updated`` (it failed and was re-recorded) or
            ``failed``.
        path: the baseline directory.
        message: for ``failed``, the whole story (first divergence, worst tensor,
            environment changes); otherwise one line saying what happened.
        result: the run comparison (scenario checks that got as far as comparing).
        diffs: every tensor that is not bitwise equal (tensor checks), in the order given.
    """

    status: BaselineStatus
    path: Path
    message: str
    result: ComparisonResult | None = None
    diffs: tuple[TensorDiff, ...] = ()


# --- scenarios ---------------------------------------------------------------------------


def check_scenario(
    path: Path,
    scenario: str,
    options: ReplayOptions | None = None,
    *,
    policy: Policy | None = None,
    update: bool = False,
) -> BaselineOutcome:
    """Replay ``scenario`` here and compare it with the baseline run at ``path``.

    Args:
        path: the baseline run directory (created when missing).
        scenario: a built-in name, ``module:function`` or an entry point's name.
        options: how to replay (default ``ReplayOptions()``); steps left at None take the
            scenario's default. A baseline recorded with other options fails its check.
        policy: the tolerance policy (default preset when None).
        update: re-record a baseline that fails its check.

    Raises:
        ScenarioError: the scenario cannot be found, built or run.
        InputError: ``path`` cannot be written.
    """
    from reprocheck.scenarios import load_scenario

    path = Path(path)
    options = ReplayOptions() if options is None else options
    if options.steps is None:
        options = dataclasses.replace(options, steps=load_scenario(scenario).default_steps)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _record(scenario, options, path)
        return BaselineOutcome("recorded", path, f"baseline recorded at {path}")
    problem = _baseline_problem(path, scenario, options)
    if problem is None:
        return _compare_replay(path, scenario, options, policy=policy, update=update)
    if update:
        _record(scenario, options, path, force=True)
        return BaselineOutcome("updated", path, f"baseline re-recorded at {path} ({problem})")
    return BaselineOutcome("failed", path, f"scenario {scenario!r}: {problem}\n{update_hint(path)}")


def _record(scenario: str, options: ReplayOptions, out: Path, *, force: bool = False) -> Path:
    """Replay ``scenario`` into the run directory ``out``."""
    from reprocheck.workflows.run import run_scenarios

    return run_scenarios([scenario], out, options, force=force)


def _compare_replay(
    path: Path, scenario: str, options: ReplayOptions, *, policy: Policy | None, update: bool
) -> BaselineOutcome:
    """Replay into a temporary run, compare it with the baseline, re-record it on drift."""
    from reprocheck.artifacts import runs as store
    from reprocheck.comparison import compare

    with tempfile.TemporaryDirectory(prefix="reprocheck-baseline-") as tmp:
        candidate = _record(scenario, options, Path(tmp) / "run")
        # The replay lives in a temporary directory: name it for what it is.
        result = dataclasses.replace(
            compare(path, candidate, policy=policy), candidate="(replayed here)"
        )
        if result.verdict != "drift":
            return BaselineOutcome(
                "passed", path, f"{scenario}: {result.verdict} against {path}", result=result
            )
        if update:
            replace_run(store.load_run(candidate), path)
            return BaselineOutcome(
                "updated", path, f"baseline re-recorded at {path} (it drifted)", result=result
            )
    return BaselineOutcome("failed", path, scenario_failure(scenario, path, result), result=result)


def _baseline_problem(path: Path, scenario: str, options: ReplayOptions) -> str | None:
    """Why the baseline at ``path`` cannot be checked against (None: it can)."""
    from reprocheck.artifacts import runs as store

    try:
        baseline = store.load_run(path)
    except ArtifactError as exc:
        return f"the baseline cannot be read: {exc.message}"
    if list(baseline.records) != [scenario]:
        found = ", ".join(repr(n) for n in baseline.records) or "none"
        return f"the baseline at {baseline.path} holds scenario {found}, not {scenario!r}"
    config = baseline.records[scenario].config
    changed = [
        f"{key} {getattr(config, key)!r} -> {value!r}"
        for key, value in options.to_dict().items()
        if getattr(config, key) != value
    ]
    if changed:
        return f"the baseline was recorded with other settings ({', '.join(changed)})"
    return None


def replace_run(source: Run, path: Path) -> None:
    """Write the run ``source`` at ``path`` through the store's writer."""
    from reprocheck.artifacts.run_writer import RunWriter

    with RunWriter(path, fingerprint=source.fingerprint, force=True, keep=source.keep) as writer:
        for name, record in source.records.items():
            with source.open_tensors(name) as reader:
                tensors = {key: reader.get(key) for key in list(reader.keys())}
            writer.add(record, tensors)


def update_hint(path: Path) -> str:
    return (
        "If the change is intended, re-record the baseline with `pytest --reprocheck-update` "
        f"(it lives in {path})."
    )


def scenario_failure(scenario: str, path: Path, result: ComparisonResult) -> str:
    from reprocheck.report import render
    from reprocheck.report.text import tensor_line

    comparison = result.scenarios[0] if result.scenarios else None
    lines = [f"scenario {scenario!r} drifted from its baseline {path}"]
    if comparison is not None:
        fd = comparison.first_divergence
        if fd is not None:
            where = f"step {fd.step}, {fd.phase}, {fd.location}"
            if fd.operator:
                where += f" (operator {fd.operator})"
            if fd.kind:
                where += f" [{fd.kind}]"
            lines.append(f"first divergence: {where}")
            if fd.detail:
                lines.append(f"  {fd.detail}")
        worst = tensor_line(comparison)
        if worst:
            lines.append(worst)
    lines += ["", render(result, "text").rstrip(), "", update_hint(path)]
    return "\n".join(lines)


# --- tensors -----------------------------------------------------------------------------


def check_tensors(
    path: Path,
    tensors: Mapping[str, torch.Tensor],
    *,
    name: str = "tensors",
    policy: Policy | None = None,
    update: bool = False,
) -> BaselineOutcome:
    """Compare ``tensors`` with the tensor set saved at ``path``.

    Each tensor is compared under the policy's tolerance for ``"<name>/<tensor name>"``
    and its dtype (integers and bools exactly). A tensor missing on either side, or with
    another dtype or shape, fails the check. The first failing tensor in the order they
    were given is reported as the first divergence (pass a model's layers in order).

    Args:
        path: the baseline tensor set (created when missing).
        tensors: name -> tensor.
        name: the set's name: the prefix of the policy keys.
        policy: the tolerance policy (default preset when None).
        update: re-record a baseline that fails its check.

    Raises:
        InputError: ``tensors`` is not a non-empty dict of tensors, or ``path`` cannot be
            written.
    """
    from reprocheck.artifacts import tensorsets as tensorset
    from reprocheck.comparison.policy import Policy

    path = Path(path)
    policy = policy if policy is not None else Policy.from_preset("default")
    given = tensorset.cpu_tensors(tensors)  # validates before anything is written
    if not path.exists():
        tensorset.write(path, given, name=name, fingerprint=_here())
        return BaselineOutcome("recorded", path, f"baseline recorded at {path}")
    try:
        saved = tensorset.load(path)
        diffs = _tensor_diffs(saved, given, name, policy)
    except ArtifactError as exc:
        if update:
            tensorset.write(path, given, name=name, fingerprint=_here())
            return BaselineOutcome("updated", path, f"baseline re-recorded at {path}")
        return BaselineOutcome(
            "failed", path, f"the baseline cannot be read: {exc.message}\n{update_hint(path)}"
        )
    failing = [d for d in diffs if not d.within]
    if not failing:
        return BaselineOutcome("passed", path, f"{name}: within tolerance of {path}", diffs=diffs)
    if update:
        tensorset.write(path, given, name=name, fingerprint=_here())
        return BaselineOutcome("updated", path, f"baseline re-recorded at {path}", diffs=diffs)
    return BaselineOutcome("failed", path, _tensor_failure(name, path, saved, diffs), diffs=diffs)


def _tensor_diffs(
    saved: TensorSet, given: Mapping[str, torch.Tensor], name: str, policy: Policy
) -> tuple[TensorDiff, ...]:
    from reprocheck.comparison.numerics import compare_tensors, missing
    from reprocheck.model.digest import dtype_name

    diffs: list[TensorDiff] = []
    with saved.open() as reader:
        for key, info in saved.tensors.items():
            full = f"{name}/{key}"
            tolerance = policy.tolerance_for(full, info.dtype)
            if key not in given:
                diffs.append(
                    missing(
                        full, "candidate", dtype=info.dtype, shape=info.shape, tolerance=tolerance
                    )
                )
                continue
            diff = compare_tensors(full, reader.get(key), given[key], tolerance)
            if not diff.equal:
                diffs.append(diff)
    for key, tensor in given.items():
        if key not in saved.tensors:
            dtype = dtype_name(tensor.dtype)
            diffs.append(
                missing(f"{name}/{key}", "baseline", dtype=dtype, shape=tuple(tensor.shape))
            )
    # In the order the tensors were given (a model's layers, say): the first that fails
    # is the first divergence.
    return tuple(diffs)


def _describe(diff: TensorDiff) -> str:
    key = diff.key
    if diff.status == "missing_in_candidate":
        return f"{key}: in the baseline but not given now"
    if diff.status == "missing_in_baseline":
        return f"{key}: given now but not in the baseline"
    if diff.status == "shape_mismatch":
        return f"{key}: shape {list(diff.shape or ())} -> {list(diff.candidate_shape or ())}"
    if diff.status == "dtype_mismatch":
        return f"{key}: dtype {diff.dtype} -> {diff.candidate_dtype}"
    text = f"{key}: {diff.status}, {diff.n_exceed} of {diff.numel} elements beyond tolerance"
    if diff.max_abs_index is not None:
        text += f", max abs {diff.max_abs:.3g} at {list(diff.max_abs_index)}"
    text += f", max rel {diff.max_rel:.3g}"
    if diff.ulp_max is not None:
        text += f", ULP max {diff.ulp_max}"
    if diff.nan_mismatch:
        text += f", {diff.nan_mismatch} NaN on one side only"
    return text + f" (rtol {diff.tolerance.rtol:g}, atol {diff.tolerance.atol:g})"


def _tensor_failure(name: str, path: Path, saved: TensorSet, diffs: tuple[TensorDiff, ...]) -> str:
    from reprocheck.comparison.envdiff import diff_fingerprints
    from reprocheck.env import fingerprint
    from reprocheck.report.text import env_value

    failing = [d for d in diffs if not d.within]
    lines = [
        f"tensors {name!r} differ from their baseline {path}: "
        f"{len(failing)} tensor(s) beyond tolerance",
        f"first divergence: {_describe(failing[0])}",
        *(f"  then {_describe(d)}" for d in failing[1:]),
    ]
    within = len(diffs) - len(failing)
    if within:
        lines.append(f"{within} more tensor(s) differ within tolerance")
    # The environment that wrote the baseline against this one: the likely culprits.
    changes = diff_fingerprints(saved.fingerprint, fingerprint().to_dict())[:_ENV_LINES]
    if changes:
        lines.append("environment changes since the baseline (most likely causes first):")
        lines += [
            f"  {c.path}: {env_value(c.baseline)} -> {env_value(c.candidate)}" for c in changes
        ]
    lines.append(update_hint(path))
    return "\n".join(lines)


def _here() -> dict[str, Any]:
    """This environment's fingerprint, as a tensor set records it."""
    from reprocheck.env import fingerprint

    return fingerprint().to_dict()
