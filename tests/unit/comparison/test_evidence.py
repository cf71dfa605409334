"""The kind of a first differing call from its evidence: arguments, dtypes, draws, a reference."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from reprocheck.comparison.evidence import op_evidence, parts_here
from reprocheck.comparison.evidence_record import Evidence
from reprocheck.comparison.result import FirstDivergence
from reprocheck.model.records import TraceEntry


def _entry(op: str = "aten.mm.default", module: str = "m.fc", **changes: Any) -> TraceEntry:
    base = TraceEntry(
        step=0,
        index=3,
        phase="forward",
        op=op,
        module=module,
        shapes=((4, 4),),
        dtypes=("float32",),
        digest="d0",
        absmax=1.0,
        mean=0.25,
        sample=(0.5, 0.25),
        args={},
        inputs="i0",
        in_dtypes=("float32", "float32"),
    )
    return dataclasses.replace(base, **changes)


def test_a_call_whose_inputs_differ_only_passes_a_difference_on() -> None:
    assert not parts_here(_entry(), _entry(inputs="i1", digest="d1"))


def test_equal_inputs_and_another_output_is_where_the_runs_part() -> None:
    assert parts_here(_entry(), _entry(digest="d1"))


def test_a_changed_argument_is_named_and_is_computation() -> None:
    b = _entry("aten.native_layer_norm.default", "m.ln", args={"eps": 1e-5})
    c = dataclasses.replace(b, args={"eps": 1e-6}, digest="d1")
    kind, evidence = op_evidence(b, c)
    assert kind == "computation"
    assert evidence.changed_arguments == {"eps": [1e-5, 1e-6]}
    assert evidence.text.startswith("eps 1e-05 → 1e-06 in m.ln (aten.native_layer_norm)")


def test_an_argument_only_one_schema_has_is_no_change() -> None:
    b = _entry(args={"approximate": "none"})
    c = _entry(args={"approximate": "none", "new_flag": False}, inputs="i1", digest="d1")
    assert not parts_here(b, c)


def test_a_dropouts_bernoulli_is_told_as_the_dropouts_p() -> None:
    b = _entry("aten.bernoulli_.float", "m.dropout", args={"p": 0.9})
    c = dataclasses.replace(b, args={"p": 0.89}, digest="d1")
    _, evidence = op_evidence(b, c)
    assert evidence.text.startswith("dropout p 0.1 → 0.11 in m.dropout")


def test_another_draw_of_a_random_operator_is_random_stream() -> None:
    b = _entry("aten.uniform_.default", sample=(0.1, 0.9))
    c = dataclasses.replace(b, digest="d1", sample=(0.7, 0.2))
    kind, evidence = op_evidence(b, c)
    assert (kind, evidence.basis) == ("random-stream", "random-draw")


def test_the_same_draw_rounded_differently_is_rounding() -> None:
    b = _entry("aten.uniform_.default", sample=(0.5, 0.25))
    c = dataclasses.replace(b, digest="d1", sample=(math.nextafter(0.5, 1), 0.25))
    kind, evidence = op_evidence(b, c)
    assert kind == "rounding"
    assert "the same draw rounded differently" in evidence.text


def test_both_sides_near_the_float64_reference_is_rounding() -> None:
    b, c = _entry(), _entry(digest="d1")
    kind, evidence = op_evidence(b, c, {"baseline": 3e-8, "candidate": 9e-8})
    assert kind == "rounding"
    assert evidence.distance_to_float64 == {"baseline": 3e-8, "candidate": 9e-8}
    assert "baseline 3e-08, candidate 9e-08 relative to a float64 reference" in evidence.text


def test_one_side_far_from_the_reference_is_computation_naming_the_closer_side() -> None:
    kind, evidence = op_evidence(
        _entry(), _entry(digest="d1"), {"baseline": 0.2, "candidate": 1e-8}
    )
    assert kind == "computation"
    assert "the candidate is closer to exact" in evidence.text


def test_without_a_reference_the_size_rule_decides_and_says_so() -> None:
    kind, evidence = op_evidence(_entry(), _entry(digest="d1", sample=(0.5, 0.2500001)))
    assert kind == "rounding"
    assert evidence.basis == "size"
    assert "no float64 reference" in evidence.text


def test_evidence_round_trips_through_json() -> None:
    evidence = Evidence(
        "t", "float64-reference", {"eps": [1e-5, 1e-6]}, {"baseline": ["float32"]}, {"x": 1.0}
    )
    first = FirstDivergence(0, "forward", "m.fc", "aten.mm", None, "rounding", "d", evidence)
    assert FirstDivergence.from_dict(first.to_dict()) == first
