"""First divergence: trace alignment across changed op sequences, records, and kinds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from compare_support import pair, scenario
from hypothesis import given
from hypothesis import strategies as st

from reprocheck.comparison import compare
from reprocheck.comparison.localize import align_traces, record_divergence
from reprocheck.model.records import ScenarioRecord, TraceEntry


def _trace(*ops: tuple[str, str, str, str]) -> list[TraceEntry]:
    """Entries (phase, module, op, digest) at step 0, in order."""
    return [
        TraceEntry(
            step=0, index=i, phase=p, op=op, module=m, shapes=((2,),), dtypes=("float32",), digest=d
        )
        for i, (p, m, op, d) in enumerate(ops)
    ]


def test_equal_traces_have_no_divergence() -> None:
    """Two equal traces align fully with nothing structural."""
    t = _trace(
        ("forward", "m.fc", "aten.addmm.default", "a"),
        ("forward", "m.act", "aten.relu.default", "b"),
    )
    alignment = align_traces(t, list(t))
    assert alignment.first is None
    assert alignment.structural.count == 0
    assert alignment.aligned == 2


def test_first_differing_aligned_op_is_named() -> None:
    """The first aligned call (baseline order) whose digest differs is the divergence."""
    b = _trace(
        ("forward", "m.fc", "aten.addmm.default", "a"),
        ("forward", "m.act", "aten.relu.default", "b"),
        ("forward", "m.out", "aten.mm.default", "c"),
    )
    c = _trace(
        ("forward", "m.fc", "aten.addmm.default", "a"),
        ("forward", "m.act", "aten.relu.default", "X"),
        ("forward", "m.out", "aten.mm.default", "Y"),
    )
    first = align_traces(b, c).first
    assert first is not None
    assert (first.baseline.op, first.baseline.module) == ("aten.relu.default", "m.act")


def test_same_calls_pair_in_order_even_where_digests_recur_elsewhere() -> None:
    """Same operators, shapes and dtypes on both sides: call i pairs with call i.

    The candidate's second call happens to produce the baseline's third output: matching
    by digest first would pair those two and call the rest one-sided.
    """
    b = _trace(
        ("forward", "m", "aten.mul.Tensor", "a"),
        ("forward", "m", "aten.mul.Tensor", "b"),
        ("forward", "m", "aten.mul.Tensor", "c"),
    )
    c = _trace(
        ("forward", "m", "aten.mul.Tensor", "x"),
        ("forward", "m", "aten.mul.Tensor", "c"),
        ("forward", "m", "aten.mul.Tensor", "y"),
    )
    alignment = align_traces(b, c)
    assert alignment.structural.count == 0
    assert alignment.aligned == 3
    assert alignment.first is not None
    assert alignment.first.baseline.index == alignment.first.candidate.index == 0


def test_op_on_one_side_only_is_structural_and_skipped() -> None:
    """A decomposition change: extra and renamed ops are structural; alignment continues."""
    b = _trace(
        ("forward", "m.fc", "aten.addmm.default", "a"),
        ("forward", "m.fc", "aten.relu.default", "b"),
        ("forward", "m.out", "aten.sum.default", "c"),
    )
    c = _trace(
        ("forward", "m.fc", "aten.mm.default", "a1"),
        ("forward", "m.fc", "aten.add.Tensor", "a2"),
        ("forward", "m.fc", "aten.relu.default", "b"),
        ("forward", "m.out", "aten.sum.default", "Z"),
    )
    alignment = align_traces(b, c)
    assert alignment.structural.baseline_only == 1
    assert alignment.structural.candidate_only == 2
    assert alignment.structural.examples[0] == "-aten.addmm.default @ step 0 forward m.fc"
    assert alignment.first is not None
    assert alignment.first.baseline.op == "aten.sum.default"


# The optimizer-phase calls outside any module in `mlp`'s first step, as recorded by torch
# 2.6.0 and 2.13.0 here (op, output shape, digest): 2.6 detaches every parameter twice and
# clones first; 2.13 detaches once, before cloning. Every tensor is bitwise equal.
_SGD_TORCH_2_6 = [
    ("clone", (256, 32), "82bd"),
    ("detach", (256, 32), "527f"),
    ("detach", (256, 32), "527f"),
    ("clone", (256,), "2f62"),
    ("detach", (256,), "3fe7"),
    ("detach", (256,), "3fe7"),
    ("clone", (256, 256), "878f"),
    ("detach", (256, 256), "c6fe"),
    ("detach", (256, 256), "c6fe"),
    ("clone", (256,), "fd8a"),
    ("detach", (256,), "3fe7"),
    ("detach", (256,), "3fe7"),
    ("clone", (10, 256), "5c88"),
    ("detach", (10, 256), "3fc0"),
    ("detach", (10, 256), "3fc0"),
    ("clone", (10,), "7159"),
    ("detach", (10,), "d0ae"),
    ("detach", (10,), "d0ae"),
]
_SGD_TORCH_2_13 = [
    ("detach", (256, 32), "527f"),
    ("clone", (256, 32), "82bd"),
    ("detach", (256,), "3fe7"),
    ("clone", (256,), "2f62"),
    ("detach", (256, 256), "c6fe"),
    ("clone", (256, 256), "878f"),
    ("detach", (256,), "3fe7"),
    ("clone", (256,), "fd8a"),
    ("detach", (10, 256), "3fc0"),
    ("clone", (10, 256), "5c88"),
    ("detach", (10,), "d0ae"),
    ("clone", (10,), "7159"),
]


def _optimizer_calls(calls: list[tuple[str, tuple[int, ...], str]]) -> list[TraceEntry]:
    return [
        TraceEntry(
            step=0,
            index=i,
            phase="optimizer",
            op=f"aten.{op}.default",
            module="",
            shapes=(shape,),
            dtypes=("float32",),
            digest=digest,
        )
        for i, (op, shape, digest) in enumerate(calls)
    ]


def test_reordered_calls_never_pair_tensors_of_another_shape() -> None:
    """Real SGD traces of torch 2.6 vs 2.13: structural differences only, no divergence.

    Regression: aligning the gaps by op name alone paired `detach` of the (256, 32) weight
    with `detach` of a (256,) bias and reported their digests as a numeric difference.
    """
    alignment = align_traces(_optimizer_calls(_SGD_TORCH_2_6), _optimizer_calls(_SGD_TORCH_2_13))
    assert alignment.first is None
    assert alignment.structural.count > 0


def test_steps_traced_on_one_side_only_are_ignored() -> None:
    """A baseline that traced more steps is compared only over the common steps."""
    b = [
        *_trace(("forward", "m", "aten.relu.default", "a")),
        *[
            TraceEntry(
                step=1,
                index=0,
                phase="forward",
                op="aten.relu.default",
                module="m",
                shapes=(),
                dtypes=(),
                digest="q",
            )
        ],
    ]
    c = _trace(("forward", "m", "aten.relu.default", "a"))
    alignment = align_traces(b, c)
    assert alignment.structural.count == 0
    assert alignment.first is None


def _records(edit: Any) -> tuple[ScenarioRecord, ScenarioRecord]:
    data, _ = scenario()
    other, _ = scenario()
    edit(other)
    return ScenarioRecord.from_dict(data), ScenarioRecord.from_dict(other)


def test_init_digest_change_is_step_0_init() -> None:
    """A differing init digest places the divergence at step 0, init, on that parameter."""
    b, c = _records(lambda d: d["init_digests"].__setitem__("fc.bias", "x"))
    found = record_divergence(b, c)
    assert found is not None
    assert (found.step, found.phase, found.parameter) == (0, "init", "fc.bias")


def test_gradient_digest_change_is_backward() -> None:
    """A differing gradient digest (loss equal) is a backward divergence on that parameter."""
    b, c = _records(lambda d: d["steps"][1]["grad_digests"].__setitem__("fc.weight", "x"))
    found = record_divergence(b, c)
    assert found is not None
    assert (found.step, found.phase, found.location) == (1, "backward", "fc.weight")


def _edit_entry(index: int, factor: float) -> Any:
    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        entry = records["mlp"]["trace"][index]
        entry["digest"] = "changed"
        entry["sample"] = [v * factor for v in entry["sample"]]
        records["mlp"]["steps"][0]["loss"] = 0.75

    return edit


def test_dropout_differing_far_beyond_rounding_is_random_stream(tmp_path: Path) -> None:
    """A random op (native_dropout) first to differ by a lot: random-stream, with module."""
    base, cand = pair(tmp_path, _edit_entry(3, -1.0))
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert fd.operator == "aten.native_dropout.default"
    assert (fd.step, fd.phase, fd.location, fd.kind) == (0, "forward", "mlp.drop", "random-stream")


def test_deterministic_op_differing_far_beyond_rounding_is_computation(tmp_path: Path) -> None:
    """A deterministic op (addmm) first to differ by 10%: computation."""
    base, cand = pair(tmp_path, _edit_entry(1, 1.1))
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert (fd.operator, fd.location, fd.kind) == ("aten.addmm.default", "mlp.fc", "computation")


def test_deterministic_op_differing_by_rounding_is_rounding(tmp_path: Path) -> None:
    """A deterministic op first to differ by about one float32 ULP: rounding."""
    base, cand = pair(tmp_path, _edit_entry(1, 1.0 + 2.0**-23))
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert fd.kind == "rounding"


def test_init_op_difference_is_step_0_init(tmp_path: Path) -> None:
    """A traced initialiser (normal_) that differs is located at step 0, phase init."""

    def edit(records: dict[str, Any], tensors: dict[str, Any]) -> None:
        _edit_entry(0, 3.0)(records, tensors)
        records["mlp"]["init_digests"]["fc.weight"] = "other"

    base, cand = pair(tmp_path, edit)
    fd = compare(base, cand).scenario("mlp").first_divergence
    assert fd is not None
    assert (fd.step, fd.phase, fd.parameter, fd.kind) == (0, "init", "fc.weight", "random-stream")


_OPS = st.sampled_from(
    ["aten.mm.default", "aten.add.Tensor", "aten.relu.default", "aten.sum.default"]
)


@given(
    ops=st.lists(st.tuples(st.sampled_from(["m.a", "m.b"]), _OPS), min_size=1, max_size=20),
    extra=st.lists(st.tuples(st.integers(0, 20), _OPS), max_size=5),
)
def test_inserted_ops_are_structural_and_never_a_divergence(
    ops: list[tuple[str, str]], extra: list[tuple[int, str]]
) -> None:
    """Ops inserted into a copy (same digests elsewhere) are structural, never "differing"."""
    base = _trace(*[("forward", m, op, f"d{i}") for i, (m, op) in enumerate(ops)])
    cand_ops = [("forward", m, op, f"d{i}") for i, (m, op) in enumerate(ops)]
    for position, op in extra:
        cand_ops.insert(min(position, len(cand_ops)), ("forward", "m.a", op, "new"))
    alignment = align_traces(base, _trace(*cand_ops))
    assert alignment.first is None
    assert alignment.structural.candidate_only - alignment.structural.baseline_only == len(extra)
    assert alignment.aligned + alignment.structural.baseline_only == len(ops)


_OPS = ("aten.addmm.default", "aten.relu.default", "aten.mm.default", "aten.add.Tensor")


@st.composite
def _trace_pairs(draw: st.DrawFn) -> tuple[list[TraceEntry], list[TraceEntry]]:
    """A baseline trace and a candidate with some calls changed: outputs, arguments,
    inputs, or (sometimes) what the call is."""
    n = draw(st.integers(1, 12))
    base = [
        TraceEntry(
            step=draw(st.integers(0, 1)) if i else 0,
            index=i,
            phase=draw(st.sampled_from(["forward", "backward"])),
            op=draw(st.sampled_from(_OPS)),
            module=draw(st.sampled_from(["m.fc", "m.act"])),
            shapes=((2,),),
            dtypes=("float32",),
            digest=f"d{i}",
            args={"alpha": 1.0},
            inputs=f"i{i}",
            in_dtypes=("float32",),
        )
        for i in range(n)
    ]
    changes: dict[str, dict[str, Any]] = {
        "none": {},
        "digest": {"digest": "x"},
        "args": {"args": {"alpha": 2.0}, "digest": "y"},
        "inputs": {"inputs": "z", "digest": "z"},
        "op": {"op": "aten.sub.Tensor"},
    }
    cand = [
        dataclasses.replace(e, **changes[draw(st.sampled_from([*changes, "none"]))]) for e in base
    ]
    return base, cand


@given(_trace_pairs())
def test_traces_read_from_records_align_as_entries_do(
    pair_of: tuple[list[TraceEntry], list[TraceEntry]],
) -> None:
    """The shortcuts for traces read from records (equal documents; the same calls in
    place, read only where they part) give the whole alignment's answer."""
    from reprocheck.model._trace_fast import LazyTrace

    b, c = pair_of
    whole = align_traces(b, c)
    lazy_b = LazyTrace([e.to_dict() for e in b], "baseline", TraceEntry)
    lazy_c = LazyTrace([e.to_dict() for e in c], "candidate", TraceEntry)
    assert align_traces(lazy_b, lazy_c) == whole
    assert align_traces(lazy_b, LazyTrace([e.to_dict() for e in b], "b2", TraceEntry)) == (
        align_traces(b, list(b))
    )
