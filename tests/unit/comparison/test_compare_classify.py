"""Kinds of difference: random operators, relative size of a traced output, growth trend."""

from __future__ import annotations

import math

import pytest

from reprocheck.comparison.classify import (
    entry_rel_diff,
    is_random_op,
    op_base_name,
    op_kind,
    rounding_threshold,
    trend_of,
)
from reprocheck.comparison.result import GrowthPoint
from reprocheck.model.records import TraceEntry


@pytest.mark.parametrize(
    ("op", "base"),
    [
        ("aten.native_dropout.default", "native_dropout"),
        ("aten.uniform_.default", "uniform"),
        ("aten::bernoulli_", "bernoulli"),
        ("aten.add.Tensor", "add"),
    ],
)
def test_op_base_name_strips_namespace_overload_and_inplace(op: str, base: str) -> None:
    """Operator names reduce to a base name for the random-operator table."""
    assert op_base_name(op) == base


@pytest.mark.parametrize(
    "op",
    [
        "aten.native_dropout.default",
        "aten.bernoulli_.float",
        "aten.randint.low",
        "aten.randperm.default",
        "aten.multinomial.default",
        "aten.normal_.default",
        "aten.uniform_.default",
        "aten.exponential_.default",
        "aten.randn.default",
    ],
)
def test_random_ops_are_recognised(op: str) -> None:
    """Dropout, bernoulli, randint, randperm, multinomial and initialisers are random."""
    assert is_random_op(op)


@pytest.mark.parametrize("op", ["aten.addmm.default", "aten.relu.default", "aten.mm.default"])
def test_deterministic_ops_are_not_random(op: str) -> None:
    """Ordinary maths operators are not random."""
    assert not is_random_op(op)


def _e(sample: tuple[float, ...], shapes: tuple[tuple[int, ...], ...] = ((2,),)) -> TraceEntry:
    absmax = max(abs(v) for v in sample)
    return TraceEntry(
        step=0,
        index=0,
        phase="forward",
        op="aten.mm.default",
        module="m",
        shapes=shapes,
        dtypes=("float32",),
        digest="d",
        absmax=absmax,
        mean=sum(sample) / len(sample),
        sample=sample,
    )


def test_entry_rel_diff_is_relative_to_absmax() -> None:
    """A 0.1 change of one sample value out of absmax 2.0 is a 5% difference."""
    assert entry_rel_diff(_e((1.0, 2.0)), _e((1.1, 2.0))) == pytest.approx(0.05)


def test_entry_rel_diff_of_other_shapes_is_infinite() -> None:
    """Outputs of different shapes differ without measure."""
    assert math.isinf(entry_rel_diff(_e((1.0, 2.0)), _e((1.0, 2.0), ((1, 2),))))


def test_rounding_threshold_is_wider_for_half_precision() -> None:
    """bfloat16 rounding reaches further than float32's before counting as a real change."""
    assert rounding_threshold("float32") == 1e-3
    assert rounding_threshold("bfloat16") > rounding_threshold("float16") > 1e-3


def test_random_op_with_small_difference_is_rounding() -> None:
    """A random op whose float output moved only by rounding is not a new random stream."""
    assert op_kind(1e-7, "aten.normal_.default", "float32") == "rounding"
    assert op_kind(0.5, "aten.normal_.default", "float32") == "random-stream"


def test_random_op_without_float_output_is_random_stream() -> None:
    """A changed integer draw (randperm) cannot be rounding."""
    assert op_kind(math.inf, "aten.randperm.default", None) == "random-stream"


def _growth(*values: float) -> tuple[GrowthPoint, ...]:
    return tuple(GrowthPoint(i, v) for i, v in enumerate(values))


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ((0.0, 0.0), "none"),
        ((1e-7, 2e-7, 1.5e-7), "bounded"),
        ((1e-7, 1e-5), "growing"),
        ((1e-7, 1e-3, 0.5), "exploding"),
        ((1e-7, math.inf), "exploding"),
    ],
)
def test_trend_tells_bounded_from_exploding(values: tuple[float, ...], trend: str) -> None:
    """The growth trend names how the largest difference develops over the steps."""
    assert trend_of(_growth(*values)) == trend
