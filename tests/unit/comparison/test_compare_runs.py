"""compare(): verdicts, tensor findings, metrics and bad-input errors on real artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from compare_support import (
    fingerprint,
    make_run,
    pair,
    write_fingerprint,
    write_run,
)

from reprocheck.comparison import Policy, compare
from reprocheck.errors import ArtifactError


def _nudge(records: dict[str, Any], tensors: dict[str, Any]) -> None:
    w = tensors["mlp"]["param/fc.weight"]
    w[1, 2] = torch.nextafter(w[1, 2], torch.tensor(float("inf")))


def test_identical_runs_are_identical(tmp_path: Path) -> None:
    """Two copies of one run: verdict identical, no first divergence, exit code 0."""
    base, cand = pair(tmp_path)
    result = compare(base, cand)
    assert result.verdict == "identical"
    assert result.exit_code == 0
    assert result.scenario("mlp").first_divergence is None
    assert result.scenario("mlp").kind is None


def test_one_ulp_is_reported_at_tensor_and_index(tmp_path: Path) -> None:
    """One element moved by one ULP: named tensor, index (1, 2), ULP distance 1."""
    base, cand = pair(tmp_path, _nudge)
    result = compare(base, cand)
    s = result.scenario("mlp")
    assert s.verdict == "within_tolerance"
    (diff,) = s.tensors
    assert diff.key == "mlp/param/fc.weight"
    assert diff.max_abs_index == (1, 2)
    assert diff.ulp_max == 1
    assert s.max_ulp == 1
    assert s.first_divergence is not None
    assert s.first_divergence.location == "param/fc.weight"
    assert s.first_divergence.phase == "final"


def test_verdict_line_names_only_the_scenarios_that_drift(tmp_path: Path) -> None:
    """'drift in a' lists the drifting scenario, not one that is only within tolerance."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["a"]["steps"][2]["loss"] = 0.4  # drift
        _nudge(records, {"mlp": tensors["b"]})  # one ULP in b: within tolerance

    base, cand = pair(tmp_path, edit, names=("a", "b", "c"))
    result = compare(base, cand)
    assert [s.verdict for s in result.scenarios] == ["drift", "within_tolerance", "identical"]
    assert result.summary.startswith("drift in a:")


def test_one_ulp_is_drift_under_bitwise_policy(tmp_path: Path) -> None:
    """The bitwise preset turns any difference into drift."""
    base, cand = pair(tmp_path, _nudge)
    result = compare(base, cand, policy=Policy.from_preset("bitwise"))
    assert result.verdict == "drift"
    assert result.exit_code == 1


def test_candidate_shape_change_is_a_drift_finding(tmp_path: Path) -> None:
    """A parameter of another shape in a consistent candidate is drift, not an error."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        tensors["mlp"]["param/fc.bias"] = torch.zeros(5)
        records["mlp"]["tensors"]["param/fc.bias"]["shape"] = [5]

    base, cand = pair(tmp_path, edit)
    s = compare(base, cand).scenario("mlp")
    assert s.verdict == "drift"
    assert [d.status for d in s.tensors] == ["shape_mismatch"]
    assert s.kind == "computation"


def test_missing_tensor_is_a_drift_finding(tmp_path: Path) -> None:
    """A tensor the candidate lacks is reported as missing_in_candidate."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        del tensors["mlp"]["optim/fc.weight/exp_avg"]
        del records["mlp"]["tensors"]["optim/fc.weight/exp_avg"]

    base, cand = pair(tmp_path, edit)
    s = compare(base, cand).scenario("mlp")
    assert s.verdict == "drift"
    assert s.tensors[0].status == "missing_in_candidate"


def test_declared_shape_disagreeing_with_tensor_file_is_an_error(tmp_path: Path) -> None:
    """A record declaring another shape than its tensor file holds is a broken artifact."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["tensors"]["param/fc.weight"]["shape"] = [3, 4]

    base, cand = pair(tmp_path, edit)
    with pytest.raises(ArtifactError, match=r"param/fc\.weight.*declares"):
        compare(base, cand)


def test_loss_change_names_step_and_forward(tmp_path: Path) -> None:
    """An untraced step whose loss differs is located at that step, phase forward."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][2]["loss"] = 0.4

    base, cand = pair(tmp_path, edit)
    s = compare(base, cand).scenario("mlp")
    assert s.verdict == "drift"
    assert s.first_divergence is not None
    assert (s.first_divergence.step, s.first_divergence.phase) == (2, "forward")
    assert s.first_divergence.location == "loss"
    assert s.first_divergence.kind == "computation"
    assert [m.key for m in s.metrics] == ["mlp/loss"]


def _runs(tmp: Path, key: str, base: list[float], cand: list[float]) -> tuple[Path, Path]:
    """Two runs whose only difference is the series ``key`` (one value per step)."""
    paths = []
    for side, values in (("a", base), ("b", cand)):
        records, tensors = make_run(steps=len(values))
        for step, value in zip(records["mlp"]["steps"], values, strict=True):
            step[key] = value
        paths.append(write_run(tmp / side, records, tensors))
    return paths[0], paths[1]


def test_metric_ulps_are_counted_in_the_metrics_own_dtype(tmp_path: Path) -> None:
    """A float32 loss moved by one float32 ULP is 1 ULP, not 2**29 float64 ULPs."""
    losses = torch.tensor([2.3, 1.7, 1.1], dtype=torch.float32)
    moved = losses.clone()
    moved[1] = torch.nextafter(moved[1], torch.tensor(float("inf")))
    base, cand = _runs(tmp_path, "loss", losses.tolist(), moved.tolist())
    (loss,) = compare(base, cand).scenario("mlp").metrics
    assert loss.key == "mlp/loss"
    assert loss.dtype == "float32"
    assert loss.ulp_max == 1
    assert loss.max_abs_index == (1,)


def test_metric_that_is_not_float32_counts_float64_ulps(tmp_path: Path) -> None:
    """A learning rate of 0.1 is a float64 value: its ULPs are float64 ULPs."""
    nudged = float(torch.nextafter(torch.tensor(0.1, dtype=torch.float64), torch.tensor(1.0)))
    base, cand = _runs(tmp_path, "lr", [0.1, 0.1, 0.1], [0.1, nudged, 0.1])
    (lr,) = compare(base, cand).scenario("mlp").metrics
    assert (lr.key, lr.dtype, lr.ulp_max) == ("mlp/lr", "float64", 1)


def test_norm_of_bitwise_equal_tensors_is_not_a_difference(tmp_path: Path) -> None:
    """Norms recomputed in another order by another torch, over equal tensors: identical.

    torch 2.6 and 2.13 sum float32 norms in different orders; on bitwise-equal gradients
    and parameters (equal digests) the recorded norms may differ in the last bit.
    """

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        step = records["mlp"]["steps"][1]
        step["grad_norm"] = float(
            torch.nextafter(torch.tensor(step["grad_norm"]), torch.tensor(9.0))
        )
        step["param_norm"] *= 1 + 1e-7
        step["param_norms"] = {k: v * (1 + 1e-7) for k, v in step["param_norms"].items()}

    base, cand = pair(tmp_path, edit)
    s = compare(base, cand).scenario("mlp")
    assert s.verdict == "identical"
    assert s.first_divergence is None


def test_norm_change_with_changed_tensors_still_counts(tmp_path: Path) -> None:
    """Where the gradients' digests differ, a different grad norm is a real difference."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        step = records["mlp"]["steps"][1]
        step["grad_norm"] *= 1.5
        step["grad_digests"] = dict.fromkeys(step["grad_digests"], "0" * 12)

    base, cand = pair(tmp_path, edit)
    s = compare(base, cand).scenario("mlp")
    assert s.verdict == "drift"
    assert s.first_divergence is not None
    assert (s.first_divergence.step, s.first_divergence.phase) == (1, "backward")
    assert "mlp/grad_norm" in [m.key for m in s.metrics]


def test_nan_loss_is_drift_whatever_the_tolerance(tmp_path: Path) -> None:
    """NaN where the baseline has a number is drift even under a loose policy."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][1]["loss"] = "nan"

    base, cand = pair(tmp_path, edit)
    result = compare(base, cand, policy=Policy.from_preset("loose"))
    assert result.verdict == "drift"
    assert result.scenario("mlp").metrics[0].status == "nan_mismatch"


def test_batch_change_is_a_random_stream(tmp_path: Path) -> None:
    """A different input batch at step 1 is a changed data stream."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][1]["batch_digest"] = "other"
        records["mlp"]["steps"][1]["loss"] = 0.9

    base, cand = pair(tmp_path, edit)
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert (fd.step, fd.location, fd.kind) == (1, "batch", "random-stream")


def test_batch_change_comes_before_the_operators_that_read_it(tmp_path: Path) -> None:
    """A different batch at step 0 is named, not the traced addmm that consumed it."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][0]["batch_digest"] = "other"
        addmm = records["mlp"]["trace"][1]
        assert addmm["op"] == "aten.addmm.default"
        addmm["digest"] = "0" * len(addmm["digest"])

    base, cand = pair(tmp_path, edit)
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert (fd.step, fd.phase, fd.location, fd.kind) == (0, "forward", "batch", "random-stream")


def test_different_scenario_sets_are_an_error(tmp_path: Path) -> None:
    """Runs of different scenarios cannot be compared; the error names both sides."""
    base = write_run(tmp_path / "a", *make_run("mlp", "cnn"))
    cand = write_run(tmp_path / "b", *make_run("mlp", "rnn"))
    with pytest.raises(
        ArtifactError, match=r"only the baseline has cnn; only the candidate has rnn"
    ):
        compare(base, cand)


def test_different_seed_is_an_error(tmp_path: Path) -> None:
    """A scenario replayed with another seed is not comparable."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["config"]["seed"] = 7

    base, cand = pair(tmp_path, edit)
    with pytest.raises(ArtifactError, match="seed"):
        compare(base, cand)


def test_run_against_fingerprint_is_an_error(tmp_path: Path) -> None:
    """A run directory and a fingerprint file are different kinds of artifact."""
    base, _ = pair(tmp_path)
    fp = write_fingerprint(tmp_path / "fp.json", fingerprint())
    with pytest.raises(ArtifactError, match="cannot compare a run"):
        compare(base, fp)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is an ArtifactError naming it."""
    with pytest.raises(ArtifactError, match="nope does not exist"):
        compare(tmp_path / "nope", tmp_path / "nope2")


def test_fingerprint_files_compare_environment_only(tmp_path: Path) -> None:
    """Two fingerprint files: drift when a field differs, with the change listed."""
    a = write_fingerprint(tmp_path / "a.json", fingerprint())
    b = write_fingerprint(tmp_path / "b.json", fingerprint(torch__version="2.14.0"))
    result = compare(a, b)
    assert result.mode == "fingerprints"
    assert result.verdict == "drift"
    assert result.scenarios == ()
    assert result.environment[0].to_dict() == {
        "path": "torch.version",
        "baseline": "2.13.0",
        "candidate": "2.14.0",
        "category": "torch",
    }


def test_equal_fingerprint_files_are_identical(tmp_path: Path) -> None:
    """Fingerprints differing only in capture time and digest are identical."""
    a = write_fingerprint(tmp_path / "a.json", fingerprint())
    b = write_fingerprint(tmp_path / "b.json", fingerprint(captured_at="later", digest="zzz"))
    assert compare(a, b).verdict == "identical"


def test_environment_changes_of_runs_are_listed(tmp_path: Path) -> None:
    """The runs' fingerprints are diffed and named in the verdict line."""
    base, cand = pair(
        tmp_path, _nudge, candidate_fp=fingerprint(threads__intra_op=1, packages__numpy="2.2.0")
    )
    result = compare(base, cand)
    assert [c.path for c in result.environment] == ["threads.intra_op", "packages.numpy"]
    assert "threads.intra_op 2 → 1" in result.summary


def test_result_is_json_serialisable(tmp_path: Path) -> None:
    """to_dict() of a drift result survives a strict JSON round trip."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        records["mlp"]["steps"][1]["loss"] = "inf"

    base, cand = pair(tmp_path, edit)
    data = json.loads(json.dumps(compare(base, cand).to_dict(), allow_nan=False))
    assert data["verdict"] == "drift"


def test_builtin_scenarios_replayed_twice_are_identical(tmp_path: Path) -> None:
    """Two real runs of every built-in scenario in this environment are bitwise identical."""
    from reprocheck.replay.options import ReplayOptions
    from reprocheck.workflows.run import run_scenarios

    a = run_scenarios(None, tmp_path / "a", ReplayOptions(steps=1))
    b = run_scenarios(None, tmp_path / "b", ReplayOptions(steps=1))
    result = compare(a, b)
    assert {s.name: s.verdict for s in result.scenarios} == dict.fromkeys(
        [s.name for s in result.scenarios], "identical"
    )
    assert len(result.scenarios) >= 3
    assert result.verdict == "identical"


def test_nan_on_one_side_is_counted_not_called_a_zero_distance(tmp_path: Path) -> None:
    """A NaN that only the candidate has: the text says how many, never "max abs 0"."""
    from reprocheck.report.text import render_text

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        bias = tensors["mlp"]["param/fc.bias"].clone()
        bias[1] = float("nan")
        tensors["mlp"]["param/fc.bias"] = bias

    base, cand = pair(tmp_path, edit)
    result = compare(base, cand)
    worst = result.scenario("mlp").tensors[0]
    assert (worst.status, worst.nan_mismatch) == ("nan_mismatch", 1)
    text = render_text(result)
    assert "1 of 4 element(s) NaN on one side only" in text
    assert "max abs 0" not in text
    assert "largest ULP distance 0" not in text
