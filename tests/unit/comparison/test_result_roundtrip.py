"""Results are complete values: each reads back from its own JSON, equal to what was written.

``from_dict(to_dict(x)) == x`` for comparisons of real runs (every field a real compare
fills: tensors, metrics, growth, first divergence, structural changes, the environment),
for the determinism result of real replays, and, property-tested, for the per-tensor
numbers with NaN and infinities. A malformed document is an ArtifactError, never a crash.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from compare_support import Records, Tensors, fingerprint, pair, write_fingerprint
from hypothesis import given, settings
from hypothesis import strategies as st

from reprocheck.comparison import compare
from reprocheck.comparison.numerics import TENSOR_STATUSES, TensorDiff
from reprocheck.comparison.policy import Tolerance
from reprocheck.comparison.result import ComparisonResult, GrowthPoint
from reprocheck.errors import ArtifactError, SchemaVersionError
from reprocheck.replay.options import ReplayOptions
from reprocheck.report.jsondoc import render_json
from reprocheck.workflows.determinism import DeterminismResult, Difference, check_determinism

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (a float NaN never equals itself; its repr does)."""
    return a == b or repr(a) == repr(b)


def _through_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, allow_nan=False))


def _drift(records: Records, tensors: Tensors) -> None:
    tensors["mlp"]["param/fc.weight"] += 1e-3
    for step in records["mlp"]["steps"]:
        step["loss"] += 1e-4 * (step["step"] + 1)
        step["param_norms"]["fc.weight"] *= 1.5
    records["mlp"]["steps"][1]["param_digests"]["fc.weight"] = "0" * 64
    del records["mlp"]["trace"][2]  # the relu call: an operator on one side only


def _nan_loss(records: Records, tensors: Tensors) -> None:
    records["mlp"]["steps"][2]["loss"] = math.nan
    tensors["mlp"]["param/fc.bias"][0] = math.inf


@pytest.fixture
def drifted(tmp_path: Path) -> ComparisonResult:
    fp = fingerprint(torch__version="2.14.0")
    fp["packages"]["torch"] = "2.14.0"
    base, cand = pair(tmp_path, _drift, names=("mlp", "cnn"), candidate_fp=fp)
    return compare(base, cand)


def test_drift_with_every_finding_round_trips(drifted: ComparisonResult) -> None:
    """A drifting comparison (tensors, metrics, growth, structure, environment) reads back."""
    scenario = drifted.scenario("mlp")
    assert drifted.verdict == "drift"
    assert scenario.tensors
    assert scenario.metrics
    assert scenario.growth
    assert scenario.first_divergence is not None
    assert scenario.structural.count
    assert drifted.environment
    assert ComparisonResult.from_dict(_through_json(drifted.to_dict())) == drifted


def test_compare_json_output_reads_back(drifted: ComparisonResult) -> None:
    """What `compare --format json` prints is a ComparisonResult again."""
    assert ComparisonResult.from_dict(json.loads(render_json(drifted))) == drifted


def test_identical_runs_round_trip(tmp_path: Path) -> None:
    """An identical comparison (no findings at all) reads back."""
    result = compare(*pair(tmp_path))
    assert result.verdict == "identical"
    assert ComparisonResult.from_dict(_through_json(result.to_dict())) == result


def test_nan_and_infinity_round_trip(tmp_path: Path) -> None:
    """NaN and infinite values are written as strings and read back as floats."""
    result = compare(*pair(tmp_path, _nan_loss))
    data = _through_json(result.to_dict())
    assert "nan" in json.dumps(data) or "inf" in json.dumps(data)
    back = ComparisonResult.from_dict(data)
    assert _same(back, result)
    assert back.to_dict() == result.to_dict()


def test_fingerprint_comparison_round_trips(tmp_path: Path) -> None:
    """Two fingerprint files: the environment changes alone read back."""
    a = write_fingerprint(tmp_path / "a.json", fingerprint())
    b = write_fingerprint(tmp_path / "b.json", fingerprint(cpu__flags=["avx2"], env={"X": "1"}))
    result = compare(a, b)
    assert result.mode == "fingerprints"
    assert result.environment
    assert ComparisonResult.from_dict(_through_json(result.to_dict())) == result


def _edits() -> list[tuple[str, Any]]:
    return [
        ("verdict", "fine"),
        ("kind", "reprocheck-run"),
        ("mode", "tensors"),
        ("scenarios", {}),
        ("summary", None),
        ("environment", [{"path": "torch.version"}]),
    ]


@pytest.mark.parametrize(("key", "value"), _edits())
def test_malformed_comparison_is_an_artifact_error(
    drifted: ComparisonResult, key: str, value: Any
) -> None:
    """A wrong or missing top-level key: an ArtifactError naming it, never a traceback."""
    data = {**drifted.to_dict(), key: value}
    with pytest.raises(ArtifactError, match="comparison"):
        ComparisonResult.from_dict(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("verdict",), "bad"),
        (("first_divergence", "step"), "zero"),
        (("tensors", 0, "status"), "wrong"),
        (("tensors", 0, "max_abs"), [1]),
        (("tensors", 0, "shape"), [True]),
        (("tensors", 0, "tolerance"), {"rtol": 1}),
        (("growth", 0, "max_rel"), "big"),
        (("structural", "examples"), [1]),
        (("tensor_counts",), {"equal": "3"}),
    ],
)
def test_malformed_nested_value_is_an_artifact_error(
    drifted: ComparisonResult, path: tuple[Any, ...], value: Any
) -> None:
    """Deep inside a scenario, a bad value is still an ArtifactError that says where."""
    data = copy.deepcopy(drifted.to_dict())
    node = data["scenarios"][0]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ArtifactError, match=r"scenarios\[0\]"):
        ComparisonResult.from_dict(data)


def test_other_report_schema_version_is_refused(drifted: ComparisonResult) -> None:
    """A report from another layout version: a SchemaVersionError, not a guess."""
    with pytest.raises(SchemaVersionError, match="schema_version 2"):
        ComparisonResult.from_dict({**drifted.to_dict(), "schema_version": 2})


def test_non_object_is_an_artifact_error() -> None:
    """A list where the result should be: ArtifactError."""
    with pytest.raises(ArtifactError, match="expected an object"):
        ComparisonResult.from_dict([])


# --- per-tensor numbers, property-tested -------------------------------------------------

FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INDEX = st.none() | st.lists(st.integers(0, 2**31), max_size=4).map(tuple)
TOLERANCE = st.builds(Tolerance, st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(TENSOR_STATUSES),
    dtype=st.none() | st.sampled_from(["float32", "bfloat16", "int64"]),
    shape=INDEX,
    counts=st.tuples(*[st.integers(0, 2**40)] * 4),
    floats=st.tuples(FLOATS, FLOATS, FLOATS),
    index=INDEX,
    ulp=st.none() | st.integers(-1, 2**63 - 1),
    quantiles=st.tuples(st.none() | FLOATS, st.none() | FLOATS),
    tolerance=TOLERANCE,
)
def test_tensor_diff_round_trips_through_json(
    *,
    status: Any,
    dtype: str | None,
    shape: tuple[int, ...] | None,
    counts: tuple[int, int, int, int],
    floats: tuple[float, float, float],
    index: tuple[int, ...] | None,
    ulp: int | None,
    quantiles: tuple[float | None, float | None],
    tolerance: Tolerance,
) -> None:
    """Any TensorDiff, NaN and infinities included, reads back from its JSON."""
    diff = TensorDiff(
        key="s/param/w",
        status=status,
        dtype=dtype,
        shape=shape,
        candidate_dtype=dtype,
        candidate_shape=shape,
        numel=counts[0],
        n_diff=counts[1],
        share_diff=floats[0],
        n_exceed=counts[2],
        max_abs=floats[1],
        max_abs_index=index,
        max_rel=floats[2],
        max_rel_index=index,
        ulp_max=ulp,
        ulp_median=quantiles[0],
        ulp_p99=quantiles[1],
        nan_mismatch=counts[3],
        tolerance=tolerance,
    )
    assert _same(TensorDiff.from_dict(_through_json(diff.to_dict())), diff)


@given(step=st.integers(0, 10**6), max_rel=FLOATS, worst=st.none() | st.text(max_size=20))
def test_growth_point_round_trips(step: int, max_rel: float, worst: str | None) -> None:
    """The per-step growth, with NaN and infinite relative differences."""
    point = GrowthPoint(step, max_rel, worst)
    assert _same(GrowthPoint.from_dict(_through_json(point.to_dict())), point)


# --- determinism -------------------------------------------------------------------------


def test_nondeterministic_result_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real nondeterministic replay's result, with its first difference, reads back."""
    monkeypatch.chdir(DATA)
    result = check_determinism("nondet:build", ReplayOptions(steps=2), fresh_process=False)
    assert result.first_difference is not None
    assert DeterminismResult.from_dict(_through_json(result.to_dict())) == result


def test_deterministic_result_round_trips() -> None:
    """A deterministic result (no difference) reads back."""
    result = check_determinism("mlp", ReplayOptions(steps=2), fresh_process=False)
    assert result.deterministic
    assert DeterminismResult.from_dict(_through_json(result.to_dict())) == result


def test_final_tensor_difference_round_trips() -> None:
    """A difference in the final tensors has no step and no operator index."""
    result = DeterminismResult(
        "s", 3, "nondeterministic", Difference(None, "final", "tensor", "w", replay="subprocess")
    )
    assert DeterminismResult.from_dict(_through_json(result.to_dict())) == result


@pytest.mark.parametrize(
    "change",
    [
        {"verdict": "maybe"},
        {"replays": 0},
        {"name": None},
        {"first_difference": {"step": 0}},
        {"first_difference": []},
    ],
)
def test_malformed_determinism_result_is_an_artifact_error(change: dict[str, Any]) -> None:
    """An unknown verdict or a malformed difference: ArtifactError."""
    good = DeterminismResult("s", 2, "deterministic").to_dict()
    with pytest.raises(ArtifactError, match="determinism result"):
        DeterminismResult.from_dict({**good, **change})
