"""The native comparison kernel gives exactly the torch path's statistics.

``compare_tensors`` takes the native kernel where it is built (reprocheck/comparison/_fused.c,
compiled by hatch_build.py at install time); with the library hidden it takes the torch
path (about twenty passes per chunk). Every field of the finding must agree, for
any values, any share of differences, any tolerance, across block and segment borders.

Where no C compiler built the kernel these tests fail unless the machine has no C
compiler at all (``cc``, ``gcc`` or ``clang``); CI installs one and sets
REPROCHECK_REQUIRE_NATIVE so a missing kernel always fails there.
"""

from __future__ import annotations

import os
import shutil
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprocheck.comparison import _fused
from reprocheck.comparison.numerics import compare_tensors
from reprocheck.comparison.policy import Tolerance

_NO_COMPILER = not any(shutil.which(c) for c in ("cc", "gcc", "clang"))
pytestmark = pytest.mark.skipif(
    not _fused.available() and _NO_COMPILER and not os.environ.get("REPROCHECK_REQUIRE_NATIVE"),
    reason="no C compiler on this machine, so no native kernel: the torch path alone runs",
)

INT_VIEW = {torch.float32: torch.int32, torch.float64: torch.int64}
TOLERANCES = [
    Tolerance(1.3e-6, 1e-5),
    Tolerance(0.0, 0.0),
    Tolerance(1e-2, 0.0),
    Tolerance(0.0, 1e-3),
]


def both(b: torch.Tensor, c: torch.Tensor, tol: Tolerance) -> tuple[object, object]:
    """The finding with the native kernel, and with the torch path alone."""
    native = compare_tensors("k", b, c, tol)
    with mock.patch.object(_fused, "_library", return_value=None):
        torch_path = compare_tensors("k", b, c, tol)
    return native, torch_path


def test_the_kernel_is_built_where_a_compiler_is() -> None:
    assert _fused.available(), (
        f"{_fused.LIBRARY} was not built: reinstall with a C compiler present "
        "(pip install -e .) and read the build's 'reprocheck: ...' line"
    )


@st.composite
def pairs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, Tolerance]:
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    n = draw(st.integers(1, 3000))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([1e-30, 1e-3, 1.0, 1e6, 1e30]))
    b = (torch.randn(n, generator=gen, dtype=torch.float64) * scale).to(dtype)
    c = b.clone()
    share = draw(st.sampled_from([0.0, 0.001, 0.1, 0.5, 1.0]))
    moved = torch.rand(n, generator=gen) < share
    how = draw(st.sampled_from(["ulps", "noise", "sign", "zeros", "mixed"]))
    bits = c.view(INT_VIEW[dtype])
    if how in ("ulps", "mixed"):
        # Within the kernel's small-distance histograms (< 256), around them, and far out.
        reach = draw(st.sampled_from([3, 300, 70000]))
        steps = torch.randint(-reach, reach, (n,), generator=gen).to(INT_VIEW[dtype])
        bits[moved] += steps[moved]
        c[~torch.isfinite(c)] = 0.0  # a nudge past the largest float: keep it finite
    if how in ("noise", "mixed"):
        noise = (torch.randn(n, generator=gen, dtype=torch.float64) * scale * 1e-4).to(dtype)
        c[moved] += noise[moved]
    if how == "sign":
        c[moved] = -c[moved]
    if how == "zeros":
        b[moved] = 0.0
        c[moved] = -0.0
    specials = draw(st.lists(st.sampled_from([0.0, -0.0, 5e-324, 1e-45, 3e38, -3e38]), max_size=4))
    for value in specials:
        at = draw(st.integers(0, n - 1))
        c[at] = value
    tol = draw(st.sampled_from(TOLERANCES))
    return b, c, tol


@settings(max_examples=300, deadline=None)
@given(pairs())
def test_native_statistics_equal_the_torch_paths(
    case: tuple[torch.Tensor, torch.Tensor, Tolerance],
) -> None:
    b, c, tol = case
    native, torch_path = both(b, c, tol)
    assert native == torch_path


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 1023, 1024, 1025, (1 << 20) + 3073])
def test_block_and_segment_borders(dtype: torch.dtype, n: int) -> None:
    """Sizes around the kernel's 1,024-element blocks and the per-core segments (2**20)."""
    gen = torch.Generator().manual_seed(n)
    b = torch.randn(n, generator=gen, dtype=dtype)
    for make in (
        lambda: b + torch.randn(n, generator=gen, dtype=dtype) * 1e-6,  # every element
        lambda: b.clone().index_fill_(0, torch.arange(0, n, 997), 2.0),  # a few, sparse
        lambda: b.clone().index_fill_(0, torch.tensor([n - 1]), 7.0),  # the last one
    ):
        c = make()
        for tol in TOLERANCES:
            native, torch_path = both(b, c, tol)
            assert native == torch_path


def test_the_first_of_equal_maxima_is_reported() -> None:
    """Two elements share the largest error in different segments: the first is named."""
    n = (1 << 21) + 5
    b = torch.zeros(n)
    c = b.clone()
    c[[17, n - 2]] = 1.0
    native, torch_path = both(b, c, Tolerance(0.0, 0.0))
    assert native == torch_path
    assert native.max_abs_index == (17,)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_inf_take_the_torch_path(value: float) -> None:
    b = torch.randn(5000)
    c = b.clone()
    c[4321] = value
    assert _fused.fold(b.reshape(-1), c.reshape(-1), 1e-5, 1e-8) is None
    native, torch_path = both(b, c, Tolerance(1.3e-6, 1e-5))
    assert native == torch_path
    assert native.status == "nan_mismatch"  # type: ignore[attr-defined]


def test_equal_non_finite_elements_do_not_stop_the_kernel() -> None:
    """NaN and Inf where both sides hold the same bits are equal elements, not a reason
    to leave the kernel."""
    b = torch.randn(5000)
    b[[3, 9]] = torch.tensor([float("nan"), float("inf")])
    c = b.clone()
    c[100] += 1.0
    assert _fused.fold(b, c, 1e-5, 1e-8) is not None
    native, torch_path = both(b, c, Tolerance(1.3e-6, 1e-5))
    assert native == torch_path


def test_overflowing_difference_takes_the_torch_path() -> None:
    b = torch.tensor([3e38] * 2000)
    c = b.clone()
    c[1500] = -3e38
    assert _fused.fold(b, c, 1e-5, 1e-8) is None
    native, torch_path = both(b, c, Tolerance(1.3e-6, 1e-5))
    assert native == torch_path


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocks_switching_between_few_and_many_differences(dtype: torch.dtype) -> None:
    """The kernel gathers a block directly after one with few differences and counts it
    first after one with many: runs of dense, sparse, equal and dense-again blocks (and a
    sparse block turning dense) give the torch path's numbers."""
    gen = torch.Generator().manual_seed(3)
    b = torch.randn(16 * 1024, generator=gen, dtype=dtype)
    c = b.clone()
    noise = torch.randn(b.numel(), generator=gen, dtype=dtype) * 1e-6
    layout = ["dense", "sparse", "sparse", "equal", "sparse", "dense", "equal", "dense"]
    layout += ["sparse", "dense", "sparse", "equal", "equal", "sparse", "dense", "sparse"]
    for i, kind in enumerate(layout):
        block = slice(i * 1024, (i + 1) * 1024)
        if kind == "dense":
            c[block] += noise[block]
        elif kind == "sparse":
            c[block][:: 97 + i] += 1e-3
    for tol in TOLERANCES:
        native, torch_path = both(b, c, tol)
        assert native == torch_path
