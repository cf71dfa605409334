"""replay_scenario / run_scenarios: what a replay records and how user failures are reported."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from reprocheck.artifacts.runs import load_run
from reprocheck.errors import InputError, ScenarioError
from reprocheck.model.digest import tensor_digest
from reprocheck.replay import ReplayOptions, replay_scenario
from reprocheck.workflows.run import run_scenarios

USER = """
import torch, reprocheck

def _scenario(ctx, batch=None, loss=None):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    x = torch.randn(ctx.steps, 3, 4, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=0.01),
        batch=batch or (lambda step: x[step]),
        loss=loss or (lambda model, b: model(b).square().mean()),
        metrics=lambda model, b, loss: {"twice": 2 * float(loss)},
    )

def good(ctx):
    return _scenario(ctx)

def batch_raises(ctx):
    def batch(step):
        if step == 1:
            raise KeyError("sample 7")
        return torch.ones(3, 4)
    return _scenario(ctx, batch=batch)

def loss_raises(ctx):
    def loss(model, b):
        raise RuntimeError("shapes do not match\\nmore detail")
    return _scenario(ctx, loss=loss)

def loss_not_scalar(ctx):
    return _scenario(ctx, loss=lambda model, b: model(b))

def loss_detached(ctx):
    return _scenario(ctx, loss=lambda model, b: model(b).sum().item())
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A user module `replayuser` importable from the working directory."""
    (tmp_path / "replayuser.py").write_text(USER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield "replayuser"
    sys.modules.pop("replayuser", None)


def test_record_has_one_entry_per_step_with_every_parameter() -> None:
    """Each step records loss, norms, lr and a digest of every parameter and gradient."""
    record, _ = replay_scenario("mlp", steps=3, trace_steps=0)
    names = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    assert [s.step for s in record.steps] == [0, 1, 2]
    for step in record.steps:
        assert set(step.param_digests) == names
        assert set(step.grad_digests) == names
        assert set(step.param_norms) == names
        assert math.isfinite(step.loss)
        assert step.grad_norm > 0
        assert step.lr == pytest.approx(0.05)
    assert set(record.init_digests) == names


def test_param_norm_is_total_of_per_parameter_norms() -> None:
    """param_norm is the 2-norm over all parameters, consistent with param_norms."""
    record, _ = replay_scenario("mlp", steps=1, trace_steps=0)
    step = record.steps[0]
    total = math.sqrt(sum(n * n for n in step.param_norms.values()))
    assert step.param_norm == pytest.approx(total, rel=1e-12)


def test_final_tensors_match_last_step_digests() -> None:
    """The final param/ tensors are the parameters whose digests the last step recorded."""
    record, tensors = replay_scenario("mlp", steps=2, trace_steps=0)
    last = record.steps[-1]
    for name, digest in last.param_digests.items():
        assert tensor_digest(tensors[f"param/{name}"]) == digest


def test_final_tensors_hold_buffers_and_optimizer_state() -> None:
    """cnn keeps batch-norm buffers and Adam's state per parameter, step as a 0-d tensor."""
    record, tensors = replay_scenario("cnn", steps=1, trace_steps=0)
    assert "buffer/1.running_mean" in tensors
    assert "optim/0.weight/exp_avg" in tensors
    assert "optim/0.weight/exp_avg_sq" in tensors
    assert tensors["optim/0.weight/step"].dim() == 0
    assert record.tensors["param/0.weight"].shape == tuple(tensors["param/0.weight"].shape)
    assert record.tensors["param/0.weight"].dtype == "float32"


def test_same_seed_replays_bitwise_identically() -> None:
    """Two in-process replays with one seed record the same digests and final bytes."""
    first, t1 = replay_scenario("transformer", steps=2, trace_steps=0)
    second, t2 = replay_scenario("transformer", steps=2, trace_steps=0)
    assert first.steps == second.steps
    assert all(torch.equal(t1[k], t2[k]) for k in t1)


def test_other_seed_changes_the_numbers() -> None:
    """A different seed changes the initial parameters."""
    first, _ = replay_scenario("mlp", steps=1, seed=0, trace_steps=0)
    second, _ = replay_scenario("mlp", steps=1, seed=1, trace_steps=0)
    assert first.init_digests != second.init_digests


def test_config_and_modules_are_recorded() -> None:
    """The config says steps, seed, device, dtype; modules are rooted at the scenario name."""
    record, _ = replay_scenario("rnn", steps=2, seed=5, trace_steps=0)
    assert record.config.steps == 2
    assert record.config.seed == 5
    assert record.config.device == "cpu"
    assert record.config.dtype == "float32"
    assert record.source == "builtin"
    assert record.modules[0] == "rnn"
    assert "rnn.lstm" in record.modules


def test_lr_schedule_is_recorded_per_step() -> None:
    """rnn's cosine schedule makes the recorded lr fall from step to step."""
    record, _ = replay_scenario("rnn", steps=3, trace_steps=0)
    lrs = [s.lr for s in record.steps]
    assert lrs[0] > lrs[1] > lrs[2]


def test_default_steps_come_from_the_scenario() -> None:
    """steps=None runs the scenario's own default."""
    from reprocheck.scenarios import load_scenario

    record, _ = replay_scenario("mlp", trace_steps=0)
    assert len(record.steps) == load_scenario("mlp").default_steps


def test_trace_covers_init_and_first_step_only() -> None:
    """With trace_steps=1 the trace holds the build (init) and step 0 only."""
    record, _ = replay_scenario("mlp", steps=2, trace_steps=1)
    assert {e.step for e in record.trace} == {0}
    phases = {e.phase for e in record.trace}
    assert {"init", "forward", "backward", "optimizer"} <= phases


def test_trace_steps_zero_records_no_trace() -> None:
    """trace_steps=0 leaves the trace empty."""
    record, _ = replay_scenario("mlp", steps=1, trace_steps=0)
    assert record.trace == ()


def test_transformer_trace_names_attention_norm_and_dropout_modules() -> None:
    """The transformer's first step traces attention, layer norm and dropout in their modules."""
    record, _ = replay_scenario("transformer", steps=1, trace_steps=1)
    forward = [e for e in record.trace if e.phase == "forward"]
    modules_of = {e.module for e in forward if "attention" in e.op}
    assert "transformer.attn" in modules_of
    assert any("layer_norm" in e.op and e.module == "transformer.ln1" for e in forward)
    assert any(e.module == "transformer.dropout" for e in forward)


def test_user_metrics_are_recorded(user_module: str) -> None:
    """A scenario's metrics function is called each step and its values kept."""
    record, _ = replay_scenario(f"{user_module}:good", steps=2, trace_steps=0)
    for step in record.steps:
        assert step.metrics["twice"] == pytest.approx(2 * step.loss)


def test_batch_raising_names_scenario_step_and_exception(user_module: str) -> None:
    """A batch function that raises is reported with the scenario, the step and the error."""
    with pytest.raises(ScenarioError) as info:
        replay_scenario(f"{user_module}:batch_raises", steps=3, trace_steps=0)
    assert str(info.value) == (
        "scenario 'replayuser:batch_raises': its batch function raised at step 1: "
        "KeyError: 'sample 7'"
    )


def test_loss_raising_is_one_line(user_module: str) -> None:
    """A loss function that raises is reported on one line with the first message line."""
    with pytest.raises(ScenarioError) as info:
        replay_scenario(f"{user_module}:loss_raises", steps=1, trace_steps=0)
    assert str(info.value) == (
        "scenario 'replayuser:loss_raises': its loss function raised at step 0: "
        "RuntimeError: shapes do not match"
    )


@pytest.mark.parametrize(
    ("function", "described"),
    [("loss_not_scalar", "a tensor of shape (3, 1)"), ("loss_detached", "float")],
)
def test_loss_must_be_a_scalar_tensor_with_graph(
    user_module: str, function: str, described: str
) -> None:
    """A loss that is not a differentiable scalar tensor is refused with what it was."""
    with pytest.raises(ScenarioError, match=re.escape(f"returned {described} at step 0")):
        replay_scenario(f"{user_module}:{function}", steps=1, trace_steps=0)


def test_failed_replay_restores_caller_state(user_module: str) -> None:
    """After a failing scenario the caller's deterministic flag and RNG are as before."""
    before = torch.get_rng_state()
    flag = torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ScenarioError):
        replay_scenario(f"{user_module}:loss_raises", steps=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.are_deterministic_algorithms_enabled() == flag


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "steps must be >= 1, got 0"),
        ({"trace_steps": -1}, "trace_steps must be >= 0, got -1"),
        ({"seed": -3}, "seed -3 is out of range"),
        ({"device": "tpu"}, "device must be 'cpu' or 'cuda', got 'tpu'"),
    ],
)
def test_bad_options_are_input_errors(options: dict[str, object], message: str) -> None:
    """Nonsense options are refused before any replay."""
    with pytest.raises(InputError, match=message):
        replay_scenario("mlp", **options)  # type: ignore[arg-type]


def test_run_scenarios_writes_a_complete_run(tmp_path: Path) -> None:
    """run_scenarios writes a run that load_run reads back, with the fingerprint."""
    out = run_scenarios(["mlp", "rnn"], tmp_path / "run", ReplayOptions(steps=2, trace_steps=0))
    run = load_run(out)
    assert run.scenario_names == ["mlp", "rnn"]
    assert run.fingerprint["kind"] == "reprocheck-fingerprint"
    with run.open_tensors("mlp") as reader:
        assert "param/0.weight" in set(reader.keys())


def test_run_scenarios_checks_every_name_before_replaying(tmp_path: Path) -> None:
    """A typo in the second name fails at once, and no run directory appears."""
    with pytest.raises(ScenarioError, match="unknown scenario 'mpl'"):
        run_scenarios(["mlp", "mpl"], tmp_path / "run", ReplayOptions(steps=1))
    assert not (tmp_path / "run").exists()


def test_run_scenarios_refuses_duplicates(tmp_path: Path) -> None:
    """Naming a scenario twice is an input error."""
    with pytest.raises(InputError, match="scenario 'mlp' is named twice"):
        run_scenarios(["mlp", "mlp"], tmp_path / "run", ReplayOptions(steps=1))


def test_failed_scenario_leaves_no_run(tmp_path: Path, user_module: str) -> None:
    """When a later scenario fails, nothing that reads as a run is left behind."""
    out = tmp_path / "run"
    with pytest.raises(ScenarioError):
        run_scenarios(
            ["mlp", f"{user_module}:loss_raises"], out, ReplayOptions(steps=1, trace_steps=0)
        )
    assert not out.exists()
    assert not list(tmp_path.glob(".run.partial-*"))


def test_norms_do_not_depend_on_the_thread_count() -> None:
    """Recorded norms of a large tensor are the same bits with 1 and 2 threads."""
    from reprocheck._compat.torch import stable_norms

    tensors = [torch.randn(300, 257, generator=torch.Generator().manual_seed(0)), torch.ones(5)]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = stable_norms(tensors)
        torch.set_num_threads(2)
        two = stable_norms(tensors)
    finally:
        torch.set_num_threads(threads)
    assert one == two
    # float32 tensors: the norm has float32 precision (see stable_norms's docstring).
    assert one[0] == pytest.approx(float(tensors[0].double().norm()), rel=1e-6)
    assert one[1] == pytest.approx(5**0.5)


@pytest.mark.parametrize(
    "dtypes",
    [
        (torch.float32,) * 3,
        (torch.float64,) * 3,
        (torch.float32, torch.float64, torch.float32),
        (torch.float16, torch.bfloat16, torch.float32),
    ],
)
def test_norms_are_each_tensors_own_norm_as_a_python_float(dtypes: tuple[torch.dtype, ...]) -> None:
    """One stack where the norms share a dtype, one by one where not: the same exact values."""
    from reprocheck._compat.torch import stable_norms

    gen = torch.Generator().manual_seed(1)
    tensors = [torch.randn(97, 33, generator=gen).to(dtype) for dtype in dtypes]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        widen = [torch.float32 if t.element_size() < 4 else None for t in tensors]
        expected = [
            float(torch.linalg.vector_norm(t, dtype=w)) for t, w in zip(tensors, widen, strict=True)
        ]
    finally:
        torch.set_num_threads(threads)
    got = stable_norms(tensors)
    assert got == expected
    assert all(type(v) is float for v in got)
