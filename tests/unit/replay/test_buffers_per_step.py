"""Buffers (batch-norm running statistics) recorded per step, and located at their step.

Issue 13, item 10: a BN momentum change used to be located at "step N, final".
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import reprocheck
from reprocheck.cli import cli
from reprocheck.comparison.localize import record_divergence
from reprocheck.model.digest import tensor_digest
from reprocheck.model.records import StepRecord
from reprocheck.replay import replay_scenario

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def test_replay_records_every_buffer_per_step_and_norms_of_floating_ones() -> None:
    record, tensors = replay_scenario("cnn", steps=2, trace_steps=0)
    for step in record.steps:
        assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(
            step.buffer_digests
        )
        assert "1.running_mean" in step.buffer_norms
        assert "1.num_batches_tracked" not in step.buffer_norms  # an integer buffer
    first, last = record.steps
    assert first.buffer_digests["1.running_mean"] != last.buffer_digests["1.running_mean"]
    for name, digest in last.buffer_digests.items():
        assert tensor_digest(tensors[f"buffer/{name}"]) == digest
    norm = float(torch.linalg.vector_norm(tensors["buffer/1.running_mean"]))
    assert last.buffer_norms["1.running_mean"] == pytest.approx(norm, rel=1e-6)


def test_step_record_round_trips_buffers_and_old_records_read_empty() -> None:
    record, _ = replay_scenario("cnn", steps=1, trace_steps=0)
    step = record.steps[0]
    data = json.loads(json.dumps(step.to_dict()))
    assert StepRecord.from_dict(data) == step
    old = {k: v for k, v in data.items() if k not in ("buffer_digests", "buffer_norms")}
    read = StepRecord.from_dict(old)
    assert read.buffer_digests == {}
    assert read.buffer_norms == {}
    assert "buffer_digests" not in read.to_dict()
    assert "buffer_norms" not in read.to_dict()


def test_a_run_without_buffers_per_step_is_not_read_as_a_buffer_change() -> None:
    record, _ = replay_scenario("cnn", steps=2, trace_steps=0)
    old = dataclasses.replace(
        record,
        steps=tuple(
            dataclasses.replace(s, buffer_digests={}, buffer_norms={}) for s in record.steps
        ),
    )
    assert record_divergence(record, old) is None


def test_recorder_records_buffers_per_step(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer) as rec:
        for _ in range(2):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            rec.step(loss)
    first, second = rec.steps
    assert set(first.buffer_digests) == {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert first.buffer_digests["1.running_mean"] != second.buffer_digests["1.running_mean"]
    assert second.buffer_digests["1.running_var"] == tensor_digest(model[1].running_var)
    (path,) = (tmp_path / "run").glob("scenarios/*/record.json")
    steps = json.loads(path.read_text(encoding="utf-8"))["steps"]
    assert "1.running_var" in steps[0]["buffer_norms"]


def test_bn_momentum_change_is_located_at_the_buffer_and_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same scenario, BN momentum 0.1 vs 0.2: drift at step 0, in the batch norm, momentum named.

    The trace keeps each call's arguments, so the batch-norm call whose ``momentum``
    changed is the first divergence (it comes before the buffer it updates, and says why).
    """
    shutil.copy(DATA / "bnmomentum.py", tmp_path / "bnmomentum.py")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for out, momentum in (("a", "0.1"), ("b", "0.2")):
        monkeypatch.setenv("BN_MOMENTUM", momentum)
        result = runner.invoke(cli, ["run", "bnmomentum:build", "--out", out])
        assert result.exit_code == 0, result.stderr
    result = runner.invoke(cli, ["compare", "a", "b", "--format", "json"])
    assert result.exit_code == 1, result.stderr
    (scenario,) = json.loads(result.stdout)["scenarios"]
    first = scenario["first_divergence"]
    assert (first["step"], first["phase"], first["location"]) == (
        0,
        "forward",
        "bnmomentum:build.1",
    )
    assert "batch_norm" in first["operator"]
    assert first["evidence"]["changed_arguments"] == {"momentum": [0.1, 0.2]}
    assert first["kind"] == "computation"
