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


def test_an_outputs_remembered_content_is_its_content_as_an_input() -> None:
    """describe_outputs hands over exactly what describe_args would digest for the tensor.

    Small and large floats (a large one: min, max and a strided subset), integers, bools,
    a NaN in a large tensor, a strided result: the next call reading the output reuses the
    bytes, so they must be _content's bit for bit.
    """
    from reprocheck.replay.trace_digest import describe_outputs, op_info

    g = torch.Generator().manual_seed(0)
    big = torch.randn(50_000, generator=g)
    with_nan = big.clone()
    with_nan[777] = float("nan")
    outputs = [
        torch.randn(5, generator=g),
        big,
        with_nan,
        big.to(torch.float64),
        torch.randint(0, 9, (100_000,), generator=g),
        torch.rand(40, generator=g) > 0.5,
        torch.arange(20.0)[::3],
        -torch.zeros(30_000),
    ]
    told: list[tuple[torch.Tensor, bytes]] = []
    info = op_info(torch.ops.aten.add.Tensor)
    describe_outputs(
        outputs,
        tuple(tuple(t.shape) for t in outputs),
        outputs,
        info,
        lambda t, content: told.append((t, content)),
    )
    assert len(told) == len(outputs)
    assert all(t is out for (t, _), out in zip(told, outputs, strict=True))
    for t, content in told:
        assert content == _content(t)


def test_large_views_digest_like_their_contiguous_copies() -> None:
    """A large input that is a view (a transposed weight, a permuted activation, a strided
    or expanded one) is digested in place, with exactly its contiguous copy's bytes."""
    from reprocheck.replay.trace_args import every_nth, memory_order

    g = torch.Generator().manual_seed(1)
    weight = torch.randn(300, 200, generator=g)
    weight[7, 9] = -0.0
    views = [
        weight.t(),
        weight[1:].t(),
        weight[:, 1:].t(),
        weight[:, ::2],
        weight.reshape(3, 100, 200).permute(2, 0, 1),
        torch.randn(1, generator=g).expand(100_000),
        torch.randn(50, 1, generator=g).expand(50, 3000).t(),
    ]
    for view in views:
        assert _content(view) == _content(view.contiguous()), view.stride()
        for step in (1, 7, 1000):
            assert torch.equal(
                every_nth(view, step).view(torch.int32),
                view.reshape(-1)[::step].contiguous().view(torch.int32),
            )
        dense = memory_order(view)
        if dense is not None:  # the same elements, in memory order
            assert torch.equal(dense.sort().values, view.reshape(-1).sort().values)
    assert memory_order(weight.t()) is not None
    assert memory_order(weight[:, 1:].t()) is None
    assert memory_order(weight[:, ::2]) is None
