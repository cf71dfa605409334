"""Bitwise comparison of replays: the first difference, in the order things happened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from reprocheck.errors import InputError
from reprocheck.model.records import (
    ScenarioConfig,
    ScenarioRecord,
    StepRecord,
    TensorInfo,
    TraceEntry,
)
from reprocheck.replay.options import ReplayOptions
from reprocheck.workflows.determinism import (
    DeterminismResult,
    Difference,
    check_determinism,
    compare_replays,
    first_difference,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def _entry(index: int, phase: str, op: str, module: str = "m", digest: str = "d") -> TraceEntry:
    return TraceEntry(
        step=0,
        index=index,
        phase=phase,
        op=op,
        module=module,
        shapes=((2,),),
        dtypes=("float32",),
        digest=digest,
    )


def _step(step: int, **changes: object) -> StepRecord:
    base = StepRecord(
        step=step,
        loss=0.5,
        grad_norm=1.0,
        param_norm=2.0,
        lr=0.1,
        batch_digest="b",
        metrics={"acc": 0.25},
        param_digests={"fc.weight": "p1", "fc.bias": "p2"},
        grad_digests={"fc.weight": "g1", "fc.bias": "g2"},
        param_norms={"fc.weight": 1.0, "fc.bias": 1.0},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


TRACE = (
    _entry(0, "init", "aten.normal_.default", ""),
    _entry(1, "forward", "aten.addmm.default", "m.fc"),
    _entry(2, "forward", "aten.relu.default", "m.act"),
    _entry(3, "backward", "aten.mm.default", "m.fc"),
    _entry(4, "optimizer", "aten.add_.Tensor", "m.fc"),
)


def _record(
    steps: tuple[StepRecord, ...] | None = None, trace: tuple[TraceEntry, ...] = TRACE
) -> ScenarioRecord:
    return ScenarioRecord(
        name="m",
        source="builtin",
        config=ScenarioConfig(steps=2, seed=0, device="cpu", dtype="float32", trace_steps=1),
        init_digests={"fc.weight": "i1", "fc.bias": "i2"},
        steps=steps if steps is not None else (_step(0), _step(1)),
        trace=trace,
        tensors={"param/fc.weight": TensorInfo("float32", (2,))},
    )


TENSORS = {"param/fc.weight": torch.tensor([1.0, 2.0])}


def _diff(b: ScenarioRecord, b_tensors: dict[str, torch.Tensor] = TENSORS) -> Difference | None:
    return first_difference(_record(), TENSORS, b, b_tensors)


def _with_entry(position: int, **changes: object) -> tuple[TraceEntry, ...]:
    trace = list(TRACE)
    trace[position] = dataclasses.replace(trace[position], **changes)  # type: ignore[arg-type]
    return tuple(trace)


def test_equal_replays_have_no_difference() -> None:
    """Identical records and tensors compare equal."""
    assert _diff(_record()) is None


def test_operator_digest_difference_names_operator_module_and_index() -> None:
    """A differing output digest is reported as that operator, with module and index."""
    diff = _diff(_record(trace=_with_entry(2, digest="other")))
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind) == (0, "forward", "operator")
    assert (diff.location, diff.module, diff.index) == ("aten.relu.default", "m.act", 2)


def test_earliest_phase_wins_over_later_ones() -> None:
    """A forward operator difference is reported before backward and parameter ones."""
    trace = _with_entry(1, digest="x")
    trace = tuple(dataclasses.replace(e, digest="y") if e.index == 3 else e for e in trace)
    steps = (_step(0, param_digests={"fc.weight": "zz", "fc.bias": "p2"}), _step(1))
    diff = _diff(_record(steps=steps, trace=trace))
    assert diff is not None
    assert (diff.phase, diff.location) == ("forward", "aten.addmm.default")


def test_operator_sequence_change_is_a_trace_difference() -> None:
    """A different operator at the same index is a structural difference."""
    diff = _diff(_record(trace=_with_entry(2, op="aten.gelu.default")))
    assert diff is not None
    assert diff.kind == "trace"
    assert "aten.relu.default in m.act vs aten.gelu.default in m.act" in diff.detail


def test_trace_length_change_is_a_trace_difference() -> None:
    """A missing operator (shorter trace) is reported with both lengths."""
    diff = _diff(_record(trace=TRACE[:-1]))
    assert diff is not None
    assert (diff.kind, diff.phase, diff.location) == ("trace", "optimizer", "aten.add_.Tensor")
    assert diff.detail == "1 vs 0 operators"


def test_untraced_step_reports_the_first_differing_parameter() -> None:
    """Past the traced steps, the first parameter (in model order) that differs is named."""
    steps = (_step(0), _step(1, param_digests={"fc.weight": "p1", "fc.bias": "changed"}))
    diff = _diff(_record(steps=steps))
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind, diff.location) == (
        1,
        "optimizer",
        "parameter",
        "fc.bias",
    )


def test_gradient_difference_is_in_the_backward_phase() -> None:
    """A gradient digest that differs is reported in backward."""
    steps = (_step(0), _step(1, grad_digests={"fc.weight": "x", "fc.bias": "g2"}))
    diff = _diff(_record(steps=steps))
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind, diff.location) == (
        1,
        "backward",
        "gradient",
        "fc.weight",
    )


def test_loss_difference_in_the_last_bit_is_found() -> None:
    """Losses are compared bitwise, not with a tolerance."""
    steps = (_step(0), _step(1, loss=float(torch.nextafter(torch.tensor(0.5), torch.tensor(1.0)))))
    diff = _diff(_record(steps=steps))
    assert diff is not None
    assert (diff.step, diff.kind) == (1, "loss")


def test_metric_and_batch_differences_are_forward_phase() -> None:
    """The batch digest and metrics belong to the forward phase of their step."""
    batch = _diff(_record(steps=(_step(0, batch_digest="other"), _step(1))))
    metric = _diff(_record(steps=(_step(0), _step(1, metrics={"acc": 0.5}))))
    assert batch is not None
    assert (batch.step, batch.phase, batch.kind) == (0, "forward", "batch")
    assert metric is not None
    assert (metric.step, metric.kind, metric.location) == (1, "metric", "acc")


def test_init_digest_difference_is_reported_in_init() -> None:
    """Initial parameters that differ are an init-phase difference at step 0."""
    record = dataclasses.replace(_record(), init_digests={"fc.weight": "other", "fc.bias": "i2"})
    diff = _diff(record)
    assert diff is not None
    assert (diff.step, diff.phase, diff.location) == (0, "init", "fc.weight")


def test_final_tensor_difference_is_found_when_records_agree() -> None:
    """Final tensors are compared bitwise after everything else."""
    diff = _diff(_record(), {"param/fc.weight": torch.tensor([1.0, 2.5])})
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind, diff.location) == (
        None,
        "final",
        "tensor",
        "param/fc.weight",
    )


def test_negative_zero_differs_bitwise() -> None:
    """-0.0 and 0.0 compare equal as numbers but are different bits: not bitwise equal."""
    loss = first_difference(
        _record(steps=(_step(0, loss=0.0), _step(1))),
        TENSORS,
        _record(steps=(_step(0, loss=-0.0), _step(1))),
        TENSORS,
    )
    tensor = first_difference(
        _record(),
        {"param/fc.weight": torch.tensor([0.0, 2.0])},
        _record(),
        {"param/fc.weight": torch.tensor([-0.0, 2.0])},
    )
    assert loss is not None
    assert loss.kind == "loss"
    assert tensor is not None
    assert tensor.kind == "tensor"


def test_describe_names_step_phase_operator_module_and_replays() -> None:
    """The one-line description reads like the CLI output."""
    diff = Difference(0, "forward", "operator", "aten.mm.default", "m.fc", 7, replay="2")
    assert diff.describe() == "step 0, forward, aten.mm.default in m.fc (replay 2 vs 1)"
    sub = dataclasses.replace(
        diff, kind="parameter", location="fc.bias", module="", replay="subprocess"
    )
    assert sub.describe() == "step 0, forward, parameter fc.bias (fresh subprocess vs replay 1)"


def test_compare_replays_reports_the_first_replay_that_differs() -> None:
    """With several replays, the verdict counts them all and names the differing one."""
    changed = _record(trace=_with_entry(3, digest="zz"))
    replays = [
        ("1", lambda: (_record(), TENSORS)),
        ("2", lambda: (_record(), TENSORS)),
        ("3", lambda: (changed, TENSORS)),
    ]
    result = compare_replays("m", replays)
    assert result.verdict == "nondeterministic"
    assert result.replays == 3
    assert result.first_difference is not None
    assert result.first_difference.replay == "3"
    assert result.to_dict()["first_difference"]["location"] == "aten.mm.default"


def test_builtin_mlp_is_deterministic_in_process() -> None:
    """Two in-process replays of the built-in mlp are bitwise equal."""
    result = check_determinism("mlp", ReplayOptions(steps=2), repeats=2, fresh_process=False)
    assert result == DeterminismResult("mlp", 2, "deterministic", None)


def test_unseeded_noise_is_found_at_the_operator_that_draws_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forward drawing from an unseeded generator differs at that random operator."""
    monkeypatch.chdir(DATA)
    result = check_determinism(
        "nondet:build", ReplayOptions(steps=2), repeats=2, fresh_process=False
    )
    diff = result.first_difference
    assert result.verdict == "nondeterministic"
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind, diff.replay) == (0, "forward", "operator", "2")
    assert diff.location == "aten.randn.generator"
    assert diff.module == "nondet:build"


def test_untraced_nondeterminism_is_found_through_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a trace, the first difference is still localized to a step and phase."""
    monkeypatch.chdir(DATA)
    result = check_determinism(
        "nondet:build", ReplayOptions(steps=2, trace_steps=0), repeats=2, fresh_process=False
    )
    diff = result.first_difference
    assert diff is not None
    assert (diff.step, diff.phase, diff.kind) == (0, "forward", "loss")


def test_one_replay_without_a_fresh_process_is_refused() -> None:
    """A single replay cannot be compared with anything."""
    with pytest.raises(InputError, match="one replay"):
        check_determinism("mlp", repeats=1, fresh_process=False)


def test_zero_repeats_is_refused() -> None:
    """repeats 0 is bad input, naming the field."""
    with pytest.raises(InputError, match="repeats must be >= 1, got 0") as info:
        check_determinism("mlp", repeats=0)
    assert info.value.field == "repeats"
