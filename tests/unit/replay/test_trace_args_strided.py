"""Input and output digests read a tensor's elements, never the memory past a strided view."""

from __future__ import annotations

import torch

from reprocheck.replay.trace_args import _content
from reprocheck.replay.trace_digest import crc_of


def test_an_expanded_scalar_is_digested_by_its_elements() -> None:
    """A stride-0 1-d tensor (the backward of a mean) digests like its contiguous copy."""
    expanded = torch.tensor(0.25).expand(4)
    assert expanded.stride() == (0,)
    assert _content(expanded) == _content(torch.full((4,), 0.25))


def test_a_strided_slice_is_digested_by_its_elements() -> None:
    base = torch.arange(8, dtype=torch.float32)
    assert _content(base[::2]) == _content(base[::2].clone())
    assert crc_of(base[::2].contiguous()) == crc_of(torch.tensor([0.0, 2.0, 4.0, 6.0]))
