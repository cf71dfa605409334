"""Distributed replay rules that need no process group: sharding, agreement, options."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch

from reprocheck.errors import InputError, ScenarioError
from reprocheck.replay import distributed as d
from reprocheck.replay.options import ReplayOptions, default_backend
from reprocheck.workflows.run import run_scenarios

Pair = collections.namedtuple("Pair", ["x", "y"])


def test_shard_takes_each_ranks_rows_along_dim_0() -> None:
    """Rank r of N gets rows [r*n, (r+1)*n) of every tensor in a tuple."""
    x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6)
    first = d.shard_batch((x, y), 0, 3, name="s", step=0)
    last = d.shard_batch((x, y), 2, 3, name="s", step=0)
    assert torch.equal(first[0], x[0:2])
    assert torch.equal(first[1], y[0:2])
    assert torch.equal(last[0], x[4:6])
    assert torch.equal(last[1], y[4:6])


def test_shards_put_together_are_the_global_batch() -> None:
    """Concatenating every rank's shard in rank order gives the global batch back."""
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    shards = [d.shard_batch(x, r, 4, name="s", step=0) for r in range(4)]
    assert torch.equal(torch.cat(shards), x)


def test_shard_keeps_dicts_namedtuples_scalars_and_plain_values() -> None:
    """Structure is kept; 0-dim tensors and non-tensors go to every rank whole."""
    scale = torch.tensor(2.0)
    batch = {"pair": Pair(torch.arange(4), torch.arange(4) * 10), "scale": scale, "tag": "t"}
    out = d.shard_batch(batch, 1, 2, name="s", step=0)
    assert isinstance(out["pair"], Pair)
    assert out["pair"].y.tolist() == [20, 30]
    assert out["scale"] is scale
    assert out["tag"] == "t"


def test_rows_that_do_not_divide_are_a_scenario_error() -> None:
    """A tensor whose rows do not divide by the world size names the tensor and the step."""
    with pytest.raises(ScenarioError, match=r"step 3 has 5 rows in batch\[1\].*2 ranks"):
        d.shard_batch((torch.zeros(4), torch.zeros(5)), 0, 2, name="s", step=3)


def test_agreeing_ranks_report_no_disagreement() -> None:
    """Equal parameter digests on every rank: no rank disagrees."""
    digests = {"fc.weight": "aa", "fc.bias": "bb"}
    hashes = [d.params_hash(dict(digests)) for _ in range(3)]
    assert d.disagreeing_ranks(hashes) == []


def test_a_planted_disagreement_is_detected() -> None:
    """One rank with one changed parameter digest is named; the others are not."""
    digests = {"fc.weight": "aa", "fc.bias": "bb"}
    planted = {**digests, "fc.bias": "bc"}
    hashes = [d.params_hash(digests), d.params_hash(digests), d.params_hash(planted)]
    assert d.disagreeing_ranks(hashes) == [2]


def test_params_hash_ignores_insertion_order_only() -> None:
    """The hash is over names and digests in name order, not in dict order."""
    a = d.params_hash({"x": "1", "y": "2"})
    assert a == d.params_hash({"y": "2", "x": "1"})
    assert a != d.params_hash({"x": "2", "y": "1"})


def test_mean_over_ranks_is_the_exact_mean_per_value() -> None:
    """Loss and metrics are averaged column by column across ranks."""
    assert d.mean_over_ranks([[1.0, 0.0], [2.0, 1.0], [0.0, 0.5]]) == [1.0, 0.5]
    assert d.mean_over_ranks([[1e16, 1.0], [-1e16, 1.0]]) == [0.0, 1.0]


def test_options_default_to_gloo_on_cpu_nccl_on_cuda_and_25_mb() -> None:
    """Backend and bucket defaults follow the device; world size 1 needs neither."""
    gloo = ReplayOptions(world_size=2)
    assert (gloo.backend, gloo.bucket_cap_mb) == ("gloo", 25.0)
    assert (default_backend("cpu"), default_backend("cuda")) == ("gloo", "nccl")
    assert ReplayOptions(world_size=2, bucket_cap_mb=5).bucket_cap_mb == 5.0
    one = ReplayOptions()
    assert (one.backend, one.bucket_cap_mb) == (None, None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"world_size": 0}, "world_size", "world_size must be >= 1, got 0"),
        ({"backend": "gloo"}, "backend", "backend needs a distributed replay"),
        ({"bucket_cap_mb": 10.0}, "bucket_cap_mb", "bucket_cap_mb needs a distributed replay"),
        ({"world_size": 2, "backend": "nccl"}, "backend", "backend 'nccl' needs device 'cuda'"),
        ({"world_size": 2, "backend": "mpi"}, "backend", "backend must be 'gloo' or 'nccl'"),
        ({"world_size": 2, "bucket_cap_mb": 0.0}, "bucket_cap_mb", "positive number"),
    ],
)
def test_bad_distributed_options_are_input_errors(
    fields: dict[str, object], field: str, message: str
) -> None:
    """Each inconsistent option combination is refused with its own message and field."""
    with pytest.raises(InputError, match=message) as info:
        ReplayOptions(**fields)  # type: ignore[arg-type]
    assert info.value.field == field


def test_launched_world_reads_torchrun_variables() -> None:
    """RANK, WORLD_SIZE and LOCAL_RANK (defaulting to RANK) describe this process."""
    assert d.launched_world({}) is None
    assert d.launched_world({"RANK": "1", "WORLD_SIZE": "2"}) == (1, 2, 1)
    assert d.launched_world({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (3, 4, 1)


@pytest.mark.parametrize(
    "env",
    [{"RANK": "x", "WORLD_SIZE": "2"}, {"RANK": "2", "WORLD_SIZE": "2"}],
)
def test_launcher_variables_that_make_no_sense_are_input_errors(env: dict[str, str]) -> None:
    """A rank that is not a number, or not below the world size, is refused."""
    with pytest.raises(InputError):
        d.launched_world(env)


def test_world_size_must_match_the_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--world-size 2 under a launcher that started 3 processes fails before any work."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(InputError, match="launcher started 3 processes"):
        run_scenarios(["mlp"], tmp_path / "run", ReplayOptions(world_size=2))
    assert not (tmp_path / "run").exists()


def test_single_process_run_under_a_multi_rank_launcher_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --world-size, every torchrun process would write the same run: refused."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match="world_size is 1"):
        run_scenarios(["mlp"], tmp_path / "run")
