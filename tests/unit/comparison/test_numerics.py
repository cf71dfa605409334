"""Tests for reprocheck.comparison.numerics: ULP maths and tensor diffs."""

from __future__ import annotations

import math
import struct

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reprocheck.comparison.numerics import (
    TensorDiff,
    compare_tensors,
    missing,
    ulp_distance,
)
from reprocheck.comparison.policy import Tolerance

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
INT_VIEW = {2: torch.int16, 4: torch.int32, 8: torch.int64}
# Largest bit pattern of a finite positive float, per dtype (exponent all ones is Inf/NaN).
MAX_FINITE_BITS = {
    torch.float16: 0x7BFF,
    torch.bfloat16: 0x7F7F,
    torch.float32: 0x7F7FFFFF,
    torch.float64: 0x7FEFFFFFFFFFFFFF,
}
SIGN_BIT = {torch.float16: 1 << 15, torch.bfloat16: 1 << 15, torch.float32: 1 << 31}
SIGN_BIT[torch.float64] = 1 << 63
DEFAULT = Tolerance(1.3e-6, 1e-5)


def from_bits(pattern: int, dtype: torch.dtype) -> torch.Tensor:
    """A one-element tensor of ``dtype`` holding the unsigned bit ``pattern``."""
    width = 8 * torch.empty((), dtype=dtype).element_size()
    signed = pattern - (1 << width) if pattern >= 1 << (width - 1) else pattern
    return torch.tensor([signed], dtype=INT_VIEW[width // 8]).view(dtype)


def reference_ulp(a: int, b: int, width: int) -> int:
    """ULP distance of two non-NaN bit patterns by Python integers (no overflow)."""

    def ordered(bits: int) -> int:
        magnitude = bits & ((1 << (width - 1)) - 1)
        return -magnitude if bits >> (width - 1) else magnitude

    return min(abs(ordered(a) - ordered(b)), (1 << 63) - 1)


finite_bits = st.sampled_from(FLOATS).flatmap(
    lambda dt: st.tuples(
        st.just(dt),
        st.integers(0, MAX_FINITE_BITS[dt]),
        st.booleans(),
    )
)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_nextafter_is_one_ulp(x: float) -> None:
    """x and nextafter(x, +inf) are 1 ULP apart in float32."""
    a = torch.tensor([x], dtype=torch.float32)
    b = torch.nextafter(a, torch.tensor([math.inf]))
    assert ulp_distance(a, b).tolist() == [1]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float64_nextafter_is_one_ulp(x: float) -> None:
    """x and nextafter(x, -inf) are 1 ULP apart in float64."""
    a = torch.tensor([x], dtype=torch.float64)
    b = torch.nextafter(a, torch.tensor([-math.inf], dtype=torch.float64))
    assert ulp_distance(a, b).tolist() == [1]


@given(finite_bits)
def test_adjacent_bit_patterns_are_one_ulp(case: tuple[torch.dtype, int, bool]) -> None:
    """Adjacent bit patterns of one sign (incl. float16/bfloat16) are 1 ULP apart."""
    dtype, pattern, negative = case
    assume(pattern < MAX_FINITE_BITS[dtype] + 1)
    sign = SIGN_BIT[dtype] if negative else 0
    a = from_bits(pattern | sign, dtype)
    b = from_bits((pattern + 1) | sign, dtype)
    assert ulp_distance(a, b).tolist() == [1]


@given(st.sampled_from(FLOATS), st.data())
def test_ulp_distance_matches_integer_reference(dtype: torch.dtype, data: st.DataObject) -> None:
    """For any two non-NaN values the distance is the gap between their ordered integers."""
    top = MAX_FINITE_BITS[dtype] + 1  # + Inf
    width = 8 * torch.empty((), dtype=dtype).element_size()
    a = data.draw(st.integers(0, top)) | data.draw(st.sampled_from([0, SIGN_BIT[dtype]]))
    b = data.draw(st.integers(0, top)) | data.draw(st.sampled_from([0, SIGN_BIT[dtype]]))
    got = ulp_distance(from_bits(a, dtype), from_bits(b, dtype)).item()
    assert got == reference_ulp(a, b, width)


@given(st.sampled_from(FLOATS), st.data())
def test_ulp_distance_is_symmetric(dtype: torch.dtype, data: st.DataObject) -> None:
    """ulp(a, b) == ulp(b, a) for any bit patterns, NaN included."""
    width = 8 * torch.empty((), dtype=dtype).element_size()
    a = from_bits(data.draw(st.integers(0, (1 << width) - 1)), dtype)
    b = from_bits(data.draw(st.integers(0, (1 << width) - 1)), dtype)
    assert ulp_distance(a, b).item() == ulp_distance(b, a).item()


@given(finite_bits, finite_bits)
def test_zero_ulp_iff_bit_equal_or_signed_zeros(
    first: tuple[torch.dtype, int, bool], second: tuple[torch.dtype, int, bool]
) -> None:
    """Distance 0 exactly when the bits are equal or the values are +0 and -0."""
    dtype, pa, na = first
    _, pb, nb = second
    a = from_bits(pa | (SIGN_BIT[dtype] if na else 0), dtype)
    b = from_bits(min(pb, MAX_FINITE_BITS[dtype]) | (SIGN_BIT[dtype] if nb else 0), dtype)
    view = INT_VIEW[a.element_size()]
    bit_equal = bool(torch.equal(a.view(view), b.view(view)))
    both_zero = bool(a.item() == 0 and b.item() == 0)
    assert (ulp_distance(a, b).item() == 0) == (bit_equal or both_zero)


@pytest.mark.parametrize("dtype", FLOATS)
def test_min_subnormals_across_zero_are_two_ulps(dtype: torch.dtype) -> None:
    """-min_subnormal vs +min_subnormal is 2 ULP; +0 vs -0 is 0."""
    tiny = from_bits(1, dtype)
    assert ulp_distance(-tiny, tiny).item() == 2
    zero = torch.zeros(1, dtype=dtype)
    assert ulp_distance(zero, -zero).item() == 0


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_and_infinity_distances(dtype: torch.dtype) -> None:
    """NaN vs number is -1, NaN vs NaN is 0, Inf is one ULP past the largest finite."""
    nan = torch.tensor([math.nan], dtype=dtype)
    one = torch.ones(1, dtype=dtype)
    inf = torch.tensor([math.inf], dtype=dtype)
    biggest = from_bits(MAX_FINITE_BITS[dtype], dtype)
    assert ulp_distance(nan, one).item() == -1
    assert ulp_distance(one, nan).item() == -1
    assert ulp_distance(nan, nan).item() == 0
    assert ulp_distance(inf, biggest).item() == 1
    assert ulp_distance(-inf, -biggest).item() == 1


def test_float64_opposite_infinities_saturate() -> None:
    """-Inf vs +Inf in float64 exceeds int64 and saturates at 2**63 - 1."""
    inf = torch.tensor([math.inf], dtype=torch.float64)
    assert ulp_distance(-inf, inf).item() == (1 << 63) - 1


def test_ulp_distance_rejects_integer_tensors() -> None:
    """ULP distance is defined for floating dtypes only (a programming error otherwise)."""
    with pytest.raises(ValueError, match="floating"):
        ulp_distance(torch.ones(2, dtype=torch.int32), torch.ones(2, dtype=torch.int32))


# --- compare_tensors --------------------------------------------------------------------


def test_one_element_one_ulp_is_located() -> None:
    """One element moved by one ULP: that index, n_diff 1, ulp_max 1, within tolerance."""
    base = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0))
    cand = base.clone()
    cand[2, 3, 1] = torch.nextafter(cand[2, 3, 1], torch.tensor(math.inf))
    diff = compare_tensors("mlp/param/w", base, cand, DEFAULT)
    assert diff.status == "within_tolerance"
    assert (diff.n_diff, diff.ulp_max, diff.max_abs_index) == (1, 1, (2, 3, 1))
    assert diff.max_rel_index == (2, 3, 1)
    assert diff.share_diff == pytest.approx(1 / 120)


def test_identical_tensors_are_equal() -> None:
    """Bitwise-identical tensors report status equal with zero statistics."""
    base = torch.randn(100)
    diff = compare_tensors("k", base, base.clone(), DEFAULT)
    assert diff.equal
    assert diff.within
    assert (diff.n_diff, diff.max_abs, diff.ulp_max, diff.ulp_p99) == (0, 0.0, 0, 0.0)


def test_difference_beyond_tolerance_exceeds() -> None:
    """A relative change of 1e-3 exceeds float32's default tolerance."""
    base = torch.ones(10)
    cand = base.clone()
    cand[7] = 1.001
    diff = compare_tensors("k", base, cand, DEFAULT)
    assert diff.status == "exceeds_tolerance"
    assert not diff.within
    assert (diff.n_exceed, diff.max_abs_index) == (1, (7,))


def test_shape_mismatch_is_a_status() -> None:
    """Different shapes give status shape_mismatch with both shapes, no exception."""
    diff = compare_tensors("k", torch.zeros(2, 3), torch.zeros(3, 2), DEFAULT)
    assert diff.status == "shape_mismatch"
    assert (diff.shape, diff.candidate_shape) == ((2, 3), (3, 2))


def test_dtype_mismatch_is_a_status() -> None:
    """Different dtypes give status dtype_mismatch with both dtype names, no exception."""
    diff = compare_tensors("k", torch.zeros(2), torch.zeros(2, dtype=torch.float64), DEFAULT)
    assert diff.status == "dtype_mismatch"
    assert (diff.dtype, diff.candidate_dtype) == ("float32", "float64")


@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_missing_key_is_a_status(side: str) -> None:
    """missing() names the side the key is missing from."""
    diff = missing("mlp/param/w", side, dtype="float32", shape=(3,))  # type: ignore[arg-type]
    assert diff.status == f"missing_in_{side}"
    assert not diff.within


def test_nan_where_baseline_has_number_is_drift_whatever_the_tolerance() -> None:
    """A NaN in the candidate at a finite baseline element is nan_mismatch, even at huge tol."""
    base = torch.ones(4)
    cand = base.clone()
    cand[1] = math.nan
    diff = compare_tensors("k", base, cand, Tolerance(1e9, 1e9))
    assert diff.status == "nan_mismatch"
    assert diff.nan_mismatch == 1


def test_infinity_where_baseline_is_finite_is_nan_mismatch() -> None:
    """A finite baseline element that becomes Inf counts as a NaN/Inf mismatch."""
    base = torch.ones(3)
    cand = torch.tensor([1.0, math.inf, 1.0])
    assert compare_tensors("k", base, cand, Tolerance(1e9, 1e9)).status == "nan_mismatch"


def test_opposite_infinities_exceed_tolerance() -> None:
    """Infinities must match exactly: +Inf vs -Inf exceeds any tolerance."""
    base = torch.tensor([math.inf, 1.0])
    cand = torch.tensor([-math.inf, 1.0])
    diff = compare_tensors("k", base, cand, Tolerance(1e9, 1e9))
    assert diff.status == "exceeds_tolerance"
    assert diff.max_abs == math.inf


def test_nan_on_both_sides_is_fine() -> None:
    """NaN at the same position on both sides is equal (same bits) or within tolerance."""
    base = torch.tensor([math.nan, 1.0])
    assert compare_tensors("k", base, base.clone(), DEFAULT).status == "equal"
    other_nan = torch.tensor([-1], dtype=torch.int32).view(torch.float32)  # another payload
    cand = torch.cat([other_nan, torch.ones(1)])
    diff = compare_tensors("k", base, cand, Tolerance(0.0, 0.0))
    assert diff.status == "within_tolerance"
    assert (diff.n_diff, diff.nan_mismatch, diff.ulp_max) == (1, 0, 0)


def test_signed_zero_differs_bitwise_but_is_within_tolerance() -> None:
    """+0 vs -0 is a bitwise difference that every tolerance (even zero) accepts."""
    diff = compare_tensors("k", torch.zeros(3), -torch.zeros(3), Tolerance(0.0, 0.0))
    assert diff.status == "within_tolerance"
    assert (diff.n_diff, diff.ulp_max, diff.max_abs) == (3, 0, 0.0)


def test_integer_tensors_compare_exactly() -> None:
    """Integers ignore the tolerance: a difference of 1 exceeds even a huge tolerance."""
    base = torch.arange(10)
    cand = base.clone()
    cand[3] += 1
    diff = compare_tensors("k", base, cand, Tolerance(1.0, 1.0))
    assert diff.status == "exceeds_tolerance"
    assert diff.tolerance == Tolerance(0.0, 0.0)
    assert (diff.max_abs, diff.max_abs_index, diff.ulp_max) == (1.0, (3,), None)


def test_bool_tensors_compare_exactly() -> None:
    """A flipped bool is a difference beyond tolerance."""
    base = torch.tensor([True, False, True])
    diff = compare_tensors("k", base, torch.tensor([True, True, True]), DEFAULT)
    assert (diff.status, diff.n_diff) == ("exceeds_tolerance", 1)


def test_complex_tensors_use_complex_tolerance() -> None:
    """Complex tensors are compared by |c - b|; ULP statistics are not given."""
    base = torch.tensor([1 + 1j, 2 - 1j], dtype=torch.complex64)
    cand = base.clone()
    cand[1] = 2 - 1.0000001j
    diff = compare_tensors("k", base, cand, Tolerance(1.3e-6, 1e-5))
    assert (diff.status, diff.n_diff, diff.max_abs_index, diff.ulp_max) == (
        "within_tolerance",
        1,
        (1,),
        None,
    )


def test_empty_tensors_are_equal() -> None:
    """Two empty tensors of one shape are equal, with no ULP statistics."""
    diff = compare_tensors("k", torch.zeros(0, 3), torch.zeros(0, 3), DEFAULT)
    assert (diff.status, diff.ulp_max) == ("equal", None)


chunk_values = st.one_of(
    st.floats(-1e3, 1e3, width=32), st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan])
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(chunk_values, min_size=1, max_size=60),
    st.lists(st.one_of(st.integers(-3, 3), st.just(1 << 20)), max_size=60),
    st.lists(st.tuples(st.integers(0, 59), chunk_values), max_size=5),
    st.integers(1, 17),
)
def test_chunk_size_does_not_change_the_result(
    values: list[float],
    moves: list[int],
    replacements: list[tuple[int, float]],
    chunk: int,
) -> None:
    """Statistics are the same whether the tensor is processed whole or in tiny chunks."""
    base = torch.tensor(values, dtype=torch.float32)
    bits = base.view(torch.int32).clone()
    for i, move in enumerate(moves[: len(values)]):
        if math.isfinite(values[i]) and values[i] > 0:  # positive finite: walk some ULPs
            bits[i] += move
    cand = bits.view(torch.float32).clone()
    for i, value in replacements:
        cand[i % len(values)] = value
    whole = compare_tensors("k", base, cand, DEFAULT)
    chunked = compare_tensors("k", base, cand, DEFAULT, chunk=chunk)
    assert whole == chunked


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 70000), min_size=1, max_size=80))
def test_ulp_quantiles_match_torch_quantile(moves: list[int]) -> None:
    """Median and p99 equal torch.quantile of the ULP distances (exact below 65536)."""
    base = torch.full((len(moves),), 1.0, dtype=torch.float32)
    bits = base.view(torch.int32) + torch.tensor(moves, dtype=torch.int32)
    cand = bits.view(torch.float32)
    diff = compare_tensors("k", base, cand, DEFAULT, chunk=7)
    dist = torch.tensor(moves, dtype=torch.float64)
    assert diff.ulp_max == max(moves)
    # Above the exact range the quantile is its log2 bucket's lower bound.
    lowered = torch.where(dist >= 65536, torch.full_like(dist, 65536.0), dist)
    assert diff.ulp_median == pytest.approx(float(torch.quantile(lowered, 0.5)))
    assert diff.ulp_p99 == pytest.approx(float(torch.quantile(lowered, 0.99)))


def _assert_close_passes(base: torch.Tensor, cand: torch.Tensor, tol: Tolerance) -> bool:
    try:
        torch.testing.assert_close(cand, base, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    except AssertionError:
        return False
    return True


special = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-30, 65504.0])


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(FLOATS),
    st.lists(st.one_of(st.floats(-1e4, 1e4), special), min_size=1, max_size=8),
    st.lists(st.one_of(st.floats(-1e-2, 1e-2), special), min_size=1, max_size=8),
    st.sampled_from([0.0, 1e-7, 1e-5, 1e-3, 1.6e-2]),
    st.sampled_from([0.0, 1e-7, 1e-5, 1e-3]),
)
def test_within_matches_torch_testing_assert_close(
    dtype: torch.dtype,
    values: list[float],
    relative: list[float],
    rtol: float,
    atol: float,
) -> None:
    """`within` agrees with whether assert_close (equal_nan=True) raises, for one dtype."""
    n = min(len(values), len(relative))
    base = torch.tensor(values[:n], dtype=torch.float64).to(dtype)
    rel = torch.tensor(relative[:n], dtype=torch.float64)
    cand = (base.double() * (1 + rel)).to(dtype)
    tol = Tolerance(rtol, atol)
    assert compare_tensors("k", base, cand, tol).within == _assert_close_passes(base, cand, tol)


# --- metrics (per-step series of Python floats, compared as float64 tensors) -------------


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float64_next_float_is_one_ulp(x: float) -> None:
    """A float64 value moved to the next float64 is 1 ULP away (a float64 metric's step)."""
    b = torch.tensor([x], dtype=torch.float64)
    c = torch.tensor([math.nextafter(x, math.inf)], dtype=torch.float64)
    diff = compare_tensors("mlp/lr", b, c, Tolerance(0.0, 0.0))
    assert diff.ulp_max == 1
    assert diff.n_diff == 1


def test_float64_nan_in_candidate_is_nan_mismatch() -> None:
    """A metric that turns NaN is always drift, whatever the tolerance."""
    b = torch.tensor([0.25, 0.5], dtype=torch.float64)
    c = torch.tensor([0.25, math.nan], dtype=torch.float64)
    diff = compare_tensors("mlp/loss", b, c, Tolerance(1e9, 1e9))
    assert (diff.status, diff.nan_mismatch) == ("nan_mismatch", 1)


def test_tensor_diff_round_trips_through_dict() -> None:
    """to_dict is JSON-safe (Inf as a string) and from_dict restores the value."""
    import json

    diff = compare_tensors("k", torch.tensor([0.0, 1.0]), torch.tensor([1e-9, 1.0]), DEFAULT)
    assert diff.max_rel == math.inf
    data = json.loads(json.dumps(diff.to_dict(), allow_nan=False))
    assert TensorDiff.from_dict(data) == diff


def test_float_bits_helper_builds_expected_value() -> None:
    """The test helper from_bits maps 0x3F800000 to 1.0 in float32 (sanity of the oracle)."""
    assert from_bits(0x3F800000, torch.float32).item() == 1.0
    assert struct.pack("<f", from_bits(0x80000000, torch.float32).item()) == struct.pack("<f", -0.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 1 << 40), min_size=1, max_size=60), st.integers(1, 9))
def test_ulp_histogram_matches_exact_values(moves: list[int], cap: int) -> None:
    """Folding ULP distances into the bounded histogram does not change the quantiles."""
    from reprocheck.comparison._chunked import Accumulator

    base = torch.full((len(moves),), 1.0, dtype=torch.float64)
    cand = (base.view(torch.int64) + torch.tensor(moves)).view(torch.float64)
    results = []
    for pending_cap in (cap, 1 << 30):
        acc = Accumulator(base, cand, "float", DEFAULT, pending_cap=pending_cap)
        for start in range(0, len(moves), 4):
            acc.add_chunk(start, min(start + 4, len(moves)))
        results.append(acc.stats((len(moves),)))
    assert results[0] == results[1]


@given(st.lists(st.booleans(), max_size=80))
def test_positions_of_differences_match_nonzero(flags: list[bool]) -> None:
    """The word-at-a-time scan finds exactly nonzero()'s indices, in order."""
    from reprocheck.comparison._bits import positions

    tensor = torch.tensor(flags, dtype=torch.bool)
    assert positions(tensor).tolist() == tensor.nonzero().squeeze(1).tolist()


@pytest.mark.skipif(not hasattr(torch, "float8_e4m3fn"), reason="torch without float8")
def test_float8_neighbours_are_one_ulp_and_exceed_exact_tolerance() -> None:
    """float8 values one bit pattern apart are 1 ULP apart; float8 compares exactly by default."""
    base = torch.tensor([0x38, 0x40], dtype=torch.uint8).view(torch.float8_e4m3fn)
    cand = torch.tensor([0x39, 0x40], dtype=torch.uint8).view(torch.float8_e4m3fn)
    assert ulp_distance(base, cand).tolist() == [1, 0]
    diff = compare_tensors("k", base, cand, Tolerance(0.0, 0.0))
    assert (diff.status, diff.ulp_max, diff.max_abs_index) == ("exceeds_tolerance", 1, (0,))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**16),
    st.floats(0, 1),
    st.sampled_from([torch.float32, torch.float64, torch.bfloat16]),
)
def test_first_chunk_whole_or_by_index_gives_the_same_statistics(
    seed: int, share: float, dtype: torch.dtype
) -> None:
    """How the first chunk is examined (guessed from a probe) never changes the result."""
    from reprocheck.comparison._chunked import Accumulator

    g = torch.Generator().manual_seed(seed)
    base = torch.randn(300, generator=g).to(dtype)
    moved = torch.rand(300, generator=g) < share
    cand = base.clone()
    cand[moved] = (
        base[moved].double()
        * (1 + 1e-3 * torch.randn(int(moved.sum()), generator=g, dtype=torch.float64))
    ).to(dtype)
    cand[::37] = -cand[::37]  # some sign flips, too
    results = []
    for start_dense in (True, False):
        acc = Accumulator(base, cand, "float", DEFAULT)
        acc.dense = start_dense
        for start in range(0, 300, 64):
            acc.add_chunk(start, min(start + 64, 300))
        results.append(acc.stats((300,)))
    assert results[0] == results[1]
