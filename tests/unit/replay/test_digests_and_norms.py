"""digests_and_norms: the digests on a helper thread beside the norms, same values as in turn."""

from __future__ import annotations

import pytest
import torch

from reprocheck._compat import torch as compat
from reprocheck.model.digest import tensor_digest
from reprocheck.replay import observe
from reprocheck.replay.observe import digests_and_norms, norm_operands


def _named() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    sparse = torch.sparse_coo_tensor(
        torch.tensor([[0, 3, 0], [1, 2, 1]]),
        torch.tensor([1.0, -2.0, 0.5]),
        (4, 3),
        check_invariants=True,
    )
    return {
        "w": torch.randn(300, 200, generator=g),
        "b": torch.randn(200, generator=g, dtype=torch.float64),
        "h": torch.randn(64, generator=g).to(torch.bfloat16),
        "e": sparse,  # uncoalesced: digested and normed coalesced
        "t": torch.randn(100, 100, generator=g).t(),  # not contiguous
    }


@pytest.mark.parametrize("beside", [0, observe._BESIDE], ids=["helper-thread", "in-turn"])
def test_the_same_digests_and_norms_as_one_after_the_other(
    beside: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small tensors are read in turn; from _BESIDE bytes on, digests run on a helper."""
    monkeypatch.setattr(observe, "_BESIDE", beside)
    named = _named()
    digests, norms = digests_and_norms(named)
    assert digests == {name: tensor_digest(t) for name, t in named.items()}
    assert norms == compat.stable_norms(norm_operands(named.values()))
    assert list(digests) == list(named)


def test_the_thread_setting_is_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "_BESIDE", 0)
    before = torch.get_num_threads()
    digests_and_norms(_named())
    assert torch.get_num_threads() == before


def test_one_tensor_and_none() -> None:
    w = torch.ones(3)
    assert digests_and_norms({"w": w}) == ({"w": tensor_digest(w)}, compat.stable_norms([w]))
    assert digests_and_norms({}) == ({}, [])
