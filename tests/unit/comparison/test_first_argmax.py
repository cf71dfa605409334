"""first_argmax: torch's argmax (first largest, NaN largest) by rows, checked against it."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprocheck.comparison._bits import first_argmax


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 9000),
    seed=st.integers(0, 2**16),
    special=st.sampled_from([None, math.nan, math.inf, -1.0]),
    where=st.floats(0, 1),
)
def test_same_position_as_argmax(n: int, seed: int, special: float | None, where: float) -> None:
    """Small integer values make ties common; a NaN or Inf may sit anywhere, tail included."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randint(0, 5, (n,), generator=g).to(torch.float32)
    if special is not None:
        values[min(n - 1, int(where * n))] = special
    assert first_argmax(values) == int(values.argmax())


@pytest.mark.parametrize("at", [0, 1023, 1024, 4095, 5000, 5119, 5120, 5121, 5199])
def test_the_single_largest_is_found_in_rows_and_tail(at: int) -> None:
    values = torch.zeros(5200, dtype=torch.float64)
    values[at] = 2.0
    assert first_argmax(values) == at


def test_the_first_of_equal_largest_wins_over_the_tail() -> None:
    values = torch.zeros(5200)
    values[[3000, 5150]] = 1.0
    assert first_argmax(values) == 3000
