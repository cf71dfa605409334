"""``reprocheck.record``: a plain PyTorch loop recorded as an ordinary run, in this process."""

from __future__ import annotations

import contextlib
import importlib.util
import random
from pathlib import Path

import numpy
import pytest
import torch

import reprocheck
from reprocheck.artifacts.runs import load_run
from reprocheck.comparison import compare
from reprocheck.errors import InputError
from reprocheck.model.digest import tensor_digest
from reprocheck.workflows import record as record_module
from reprocheck.workflows.seeding import last_seed, seed_everything

STEPS = 4


def _setup(
    seed: int = 0, *, adam: bool = True, groups: bool = False
) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[tuple[torch.Tensor, torch.Tensor]]]:
    seed_everything(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(), torch.nn.Linear(12, 3)
    )
    params: list[dict[str, object]] | list[torch.nn.Parameter]
    if groups:
        params = [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": [*model[1].parameters(), *model[3].parameters()], "lr": 0.02},
        ]
    else:
        params = list(model.parameters())
    optimizer: torch.optim.Optimizer = (
        torch.optim.Adam(params, lr=0.01) if adam else torch.optim.SGD(params, lr=0.05)
    )
    batches = [(torch.randn(8, 6), torch.randint(0, 3, (8,))) for _ in range(STEPS)]
    return model, optimizer, batches


def _train(
    out: Path | None, *, groups: bool = False, trace_steps: int = 1, name: str = "train"
) -> tuple[torch.nn.Module, list[dict[str, object]]]:
    """The loop of the docs, recorded at ``out`` (or not recorded when None)."""
    model, optimizer, batches = _setup(groups=groups)
    seen: list[dict[str, object]] = []
    recorder = (
        reprocheck.record(out, model=model, optimizer=optimizer, name=name, trace_steps=trace_steps)
        if out is not None
        else None
    )
    with recorder if recorder is not None else contextlib.nullcontext():
        for x, y in batches:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            grads = {n: tensor_digest(p.grad) for n, p in model.named_parameters()}
            optimizer.step()
            optimizer.zero_grad()
            seen.append({"loss": loss.item(), "grads": grads})
            if recorder is not None:
                recorder.step(loss, double=2 * loss, fixed=1.5)
    return model, seen


def test_record_writes_a_run_load_run_reads(tmp_path: Path) -> None:
    """Config, loss, metrics, LR, gradient and parameter digests, tensors: as the loop saw them."""
    model, seen = _train(tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert list(run.records) == ["train"]
    rec = run.records["train"]
    assert rec.source == "recorded"
    assert (rec.config.steps, rec.config.seed, rec.config.device) == (STEPS, 0, "cpu")
    assert (rec.config.dtype, rec.config.trace_steps) == ("float32", 1)
    assert [s.loss for s in rec.steps] == [s["loss"] for s in seen]
    assert [s.grad_digests for s in rec.steps] == [s["grads"] for s in seen]
    assert rec.steps[0].metrics == {"double": 2 * rec.steps[0].loss, "fixed": 1.5}
    assert all(s.lr == 0.01 and s.lrs == (0.01,) for s in rec.steps)
    final = {n: tensor_digest(p) for n, p in model.named_parameters()}
    assert rec.steps[-1].param_digests == final
    assert all(s.grad_norm > 0 and s.param_norm > 0 for s in rec.steps)
    assert rec.modules[0] == "train"
    assert "train.0" in rec.modules
    assert "buffer/1.running_mean" in rec.tensors
    assert "optim/0.weight/exp_avg" in rec.tensors
    assert run.fingerprint["torch"]
    with run.open_tensors("train") as reader:
        assert torch.equal(reader.get("param/3.weight"), model[3].weight.detach())


def test_each_param_group_lr_is_recorded(tmp_path: Path) -> None:
    """``lr`` is group 0's, ``lrs`` every group's, in order."""
    _train(tmp_path / "run", groups=True)
    step = load_run(tmp_path / "run").records["train"].steps[0]
    assert step.lr == 0.01
    assert step.lrs == (0.01, 0.02)


def test_recording_does_not_move_the_numbers(tmp_path: Path) -> None:
    """The same loop recorded (and traced) and not recorded ends bitwise equal."""
    recorded, _ = _train(tmp_path / "run", trace_steps=STEPS)
    plain, _ = _train(None)
    for (name, a), (_, b) in zip(
        recorded.state_dict().items(), plain.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_two_records_of_one_loop_compare_identical(tmp_path: Path) -> None:
    _train(tmp_path / "a")
    _train(tmp_path / "b")
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result.verdict == "identical"


def test_check_refuses_a_recorded_run_instead_of_replaying_a_namesake(tmp_path: Path) -> None:
    """A loop recorded as "mlp" must not be checked by replaying the built-in mlp: exit 2."""
    from click.testing import CliRunner

    from reprocheck.cli import cli

    _train(tmp_path / "a", name="mlp")
    result = CliRunner().invoke(cli, ["check", "--baseline", str(tmp_path / "a")])
    assert result.exit_code == 2, result.output
    assert "recorded from your own training loop" in result.stderr
    assert "Hint:" in result.stderr


def test_trace_follows_the_phases_of_the_traced_steps(tmp_path: Path) -> None:
    """forward, then backward from the autograd engine, then optimizer; module paths named."""
    _train(tmp_path / "run", trace_steps=2)
    rec = load_run(tmp_path / "run").records["train"]
    assert rec.config.trace_steps == 2
    assert {e.step for e in rec.trace} == {0, 1}
    for step in (0, 1):
        phases = [e.phase for e in rec.trace if e.step == step]
        assert [e.index for e in rec.trace if e.step == step] == list(range(len(phases)))
        order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
        assert order == ["forward", "backward", "optimizer"]
    forward = [e for e in rec.trace if e.step == 0 and e.phase == "forward"]
    assert any(e.op == "aten.addmm.default" and e.module == "train.0" for e in forward)
    backward = [e for e in rec.trace if e.step == 0 and e.phase == "backward"]
    assert any(e.module == "train.3" for e in backward)


def test_no_trace_with_trace_steps_0(tmp_path: Path) -> None:
    _train(tmp_path / "run", trace_steps=0)
    rec = load_run(tmp_path / "run").records["train"]
    assert rec.trace == ()
    assert rec.config.trace_steps == 0


def test_an_exception_in_the_block_leaves_no_run(tmp_path: Path) -> None:
    """Nothing at ``out`` and no partial directory beside it; the hooks are gone."""
    model, optimizer, batches = _setup()

    def train_and_fail() -> None:
        with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer) as rec:
            x, y = batches[0]
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            rec.step(loss)
            model(x)
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        train_and_fail()
    assert list(tmp_path.iterdir()) == []
    assert not model._forward_pre_hooks
    assert not model[0]._forward_hooks
    assert not optimizer._optimizer_step_pre_hooks
    assert load_run_fails(tmp_path / "run")


def load_run_fails(path: Path) -> bool:
    try:
        load_run(path)
    except reprocheck.ReprocheckError:
        return True
    return False


def test_a_block_without_steps_is_refused_and_leaves_no_run(tmp_path: Path) -> None:
    model, optimizer, _ = _setup()
    with pytest.raises(InputError, match="without any step recorded"):
        with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer):
            pass
    assert list(tmp_path.iterdir()) == []


def test_without_an_optimizer_the_gradients_left_at_step_are_recorded(tmp_path: Path) -> None:
    """A hand-written update: gradients taken at rec.step(), lr 0.0, no optimizer state."""
    model, _, batches = _setup()
    with reprocheck.record(tmp_path / "run", model=model) as rec:
        for x, y in batches:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            grads = {n: tensor_digest(p.grad) for n, p in model.named_parameters()}
            with torch.no_grad():
                for p in model.parameters():
                    p.sub_(0.1 * p.grad)
            recorded = rec.step(loss)
            assert recorded.grad_digests == grads
            model.zero_grad()
    run = load_run(tmp_path / "run").records["train"]
    assert all(s.lr == 0.0 and s.lrs == () for s in run.steps)
    assert not any(k.startswith("optim/") for k in run.tensors)


def test_batch_digest_follows_the_model_inputs(tmp_path: Path) -> None:
    """The same inputs digest alike; other inputs do not."""
    model, optimizer, batches = _setup()
    x, y = batches[0]
    with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer) as rec:
        for inputs in (x, x, x + 1):
            torch.nn.functional.cross_entropy(model(inputs), y).backward()
            optimizer.step()
            optimizer.zero_grad()
            rec.step(0.0)
    a, b, c = (s.batch_digest for s in load_run(tmp_path / "run").records["train"].steps)
    assert a == b != c


def test_nonfinite_loss_is_named(tmp_path: Path) -> None:
    model, optimizer, batches = _setup()
    with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer) as rec:
        x, _ = batches[0]
        model(x)
        rec.step(0.5)
        rec.step(float("nan"))
    found = load_run(tmp_path / "run").records["train"].first_nonfinite
    assert found is not None
    assert (found.step, found.what) == (1, "loss")


def test_step_outside_the_block_and_reuse_are_refused(tmp_path: Path) -> None:
    model, optimizer, _ = _setup()
    rec = reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer)
    with pytest.raises(InputError, match="outside"):
        rec.step(1.0)
    with rec:
        rec.step(1.0)
    with pytest.raises(InputError, match="outside"):
        rec.step(1.0)
    with pytest.raises(InputError, match="one block"):
        rec.__enter__()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"trace_steps": -1}, "trace_steps"),
        ({"trace_steps": True}, "trace_steps"),
    ],
)
def test_bad_arguments_name_their_field(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    model = torch.nn.Linear(2, 2)
    with pytest.raises(InputError) as info:
        reprocheck.record(tmp_path / "run", model=model, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_an_existing_run_is_refused_unless_forced(tmp_path: Path) -> None:
    _train(tmp_path / "run")
    model, optimizer, _ = _setup()
    with pytest.raises(InputError, match="not empty"):
        with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer):
            pass
    with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer, force=True) as rec:
        rec.step(1.0)
    assert load_run(tmp_path / "run").records["train"].config.steps == 1


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(numpy.random.rand()), float(torch.rand(()))

    assert seed_everything(123) == 123
    first = draw()
    seed_everything(123)
    assert draw() == first
    assert last_seed() == 123
    seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True])
def test_seed_everything_refuses_bad_seeds(seed: object) -> None:
    with pytest.raises(InputError) as info:
        seed_everything(seed)  # type: ignore[arg-type]
    assert info.value.field == "seed"


def test_the_seed_is_recorded(tmp_path: Path) -> None:
    model, optimizer, _ = _setup(seed=7)
    with reprocheck.record(tmp_path / "run", model=model, optimizer=optimizer) as rec:
        rec.step(1.0)
    assert load_run(tmp_path / "run").records["train"].config.seed == 7


def test_record_is_exported_lazily_as_a_function() -> None:
    """``reprocheck.record`` is the function: no module of that name shadows it."""
    assert reprocheck.record is record_module.record
    assert reprocheck.seed_everything is seed_everything
    assert importlib.util.find_spec("reprocheck.record") is None
    assert {"record", "seed_everything", "Recorder"} <= set(reprocheck.__all__)


def test_lrs_is_optional_in_the_step_format(tmp_path: Path) -> None:
    """A step with ``lrs`` round-trips; one without the key (replayed, older) reads as ()."""
    from reprocheck.model.records import StepRecord

    _train(tmp_path / "run", groups=True)
    step = load_run(tmp_path / "run").records["train"].steps[0]
    data = step.to_dict()
    assert data["lrs"] == [0.01, 0.02]
    assert StepRecord.from_dict(data) == step
    del data["lrs"]
    assert StepRecord.from_dict(data).lrs == ()
    assert "lrs" not in StepRecord.from_dict(data).to_dict()
