"""The operator tracer: operators in call order, module paths, phases, digests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from reprocheck.model.records import TraceEntry
from reprocheck.replay.trace import OpTracer


class Block(torch.nn.Module):
    """A small transformer block: the modules the built-in transformer uses."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(11, 16)
        self.ln = torch.nn.LayerNorm(16)
        self.qkv = torch.nn.Linear(16, 48)
        self.drop = torch.nn.Dropout(0.25)
        self.head = torch.nn.Linear(16, 11)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.emb(tokens)
        b, t, d = h.shape
        q, k, v = self.qkv(self.ln(h)).view(b, t, 3, 2, d // 2).permute(2, 0, 3, 1, 4)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.head(h + self.drop(a.transpose(1, 2).reshape(b, t, d)))


def _step(
    tracer: OpTracer | None, seed: int = 0
) -> tuple[list[TraceEntry], dict[str, torch.Tensor], float]:
    """Build the block (init phase) and run one traced training step."""
    torch.manual_seed(seed)
    tracer = tracer or OpTracer("tf")
    with tracer.recording(0, "init"):
        model = Block()
        torch.nn.init.trunc_normal_(model.emb.weight, std=0.02)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    tracer.attach(model)
    tokens = torch.randint(0, 11, (2, 6))
    with tracer.recording(0, "forward"):
        logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), tokens.reshape(-1))
        tracer.set_phase("backward")
        loss.backward()
        tracer.set_phase("optimizer")
        optimizer.step()
    tracer.close()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    return tracer.entries, params, float(loss.detach())


@pytest.fixture(scope="module")
def traced() -> list[TraceEntry]:
    return _step(None)[0]


def _ops(entries: list[TraceEntry], phase: str) -> Iterator[tuple[str, str]]:
    return ((e.op, e.module) for e in entries if e.phase == phase)


def test_forward_lists_attention_layer_norm_and_dropout_with_module_paths(
    traced: list[TraceEntry],
) -> None:
    """Attention, layer norm and dropout operators appear with the module that ran them."""
    forward = set(_ops(traced, "forward"))
    assert ("aten._scaled_dot_product_flash_attention_for_cpu.default", "tf") in forward
    assert ("aten.native_layer_norm.default", "tf.ln") in forward
    assert ("aten.bernoulli_.float", "tf.drop") in forward
    assert ("aten.embedding.default", "tf.emb") in forward
    assert ("aten.addmm.default", "tf.qkv") in forward


def test_loss_operators_after_the_model_have_no_module(traced: list[TraceEntry]) -> None:
    """Operators outside any module (the loss) get the empty module path."""
    assert ("aten.nll_loss_forward.default", "") in set(_ops(traced, "forward"))


def test_backward_operators_get_the_module_whose_forward_made_them(
    traced: list[TraceEntry],
) -> None:
    """Backward kernels are attributed through the autograd graph to their module."""
    backward = set(_ops(traced, "backward"))
    assert ("aten.native_layer_norm_backward.default", "tf.ln") in backward
    assert ("aten.embedding_dense_backward.default", "tf.emb") in backward
    assert ("aten._scaled_dot_product_flash_attention_for_cpu_backward.default", "tf") in backward
    assert any(op == "aten.mm.default" and module == "tf.head" for op, module in backward)


def test_optimizer_operators_name_the_parameter_owner(traced: list[TraceEntry]) -> None:
    """The optimizer's update of a parameter is attributed to the module owning it."""
    optimizer = set(_ops(traced, "optimizer"))
    assert ("aten.addcdiv_.default", "tf.qkv") in optimizer


def test_init_phase_records_the_random_initialisers(traced: list[TraceEntry]) -> None:
    """trunc_normal_ and the default initialisers show up as random operators in init."""
    init_ops = {e.op for e in traced if e.phase == "init"}
    assert {"aten.normal_.default", "aten.uniform_.default"} <= init_ops
    assert all(e.step == 0 for e in traced if e.phase == "init")


def test_indices_run_on_across_phases_of_a_step(traced: list[TraceEntry]) -> None:
    """Index counts every operator of the step in call order, init and all phases."""
    assert [e.index for e in traced] == list(range(len(traced)))
    phases = [e.phase for e in traced]
    assert phases == sorted(phases, key=["init", "forward", "backward", "optimizer"].index)


def _one(fn: object, *tensors: torch.Tensor) -> TraceEntry:
    """Trace ``fn(*tensors)`` and return its only entry."""
    tracer = OpTracer("x")
    with tracer.recording(1, "forward"):
        fn(*tensors)  # type: ignore[operator]
    (entry,) = tracer.entries
    return entry


def test_entry_records_shape_dtype_and_summary() -> None:
    """An output's shape, dtype, absmax, mean and strided sample are recorded."""
    a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    entry = _one(lambda t: t * -2, a)
    assert entry.op == "aten.mul.Tensor"
    assert (entry.step, entry.index, entry.phase) == (1, 0, "forward")
    assert entry.shapes == ((3, 4),)
    assert entry.dtypes == ("float32",)
    assert entry.absmax == 22.0
    assert entry.mean == pytest.approx(-11.0)
    assert entry.sample == (0.0, -2.0, -4.0, -6.0, -8.0, -10.0, -12.0, -14.0)


def test_large_output_summary_matches_the_float64_reference() -> None:
    """Above the Python path, absmax, mean and sample agree with a float64 reference."""
    from reprocheck.model.digest import SAMPLE_SIZE

    a = torch.randn(100, 300, generator=torch.Generator().manual_seed(0))
    entry = _one(lambda t: t * 3, a)
    ref = (a * 3).reshape(-1).to(torch.float64)
    stride = max(1, ref.numel() // SAMPLE_SIZE)
    assert entry.absmax == float(ref.abs().max())
    assert entry.mean == pytest.approx(float(ref.mean()), abs=1e-5)
    assert entry.sample == tuple(ref[::stride][:SAMPLE_SIZE].tolist())


@pytest.mark.parametrize(("numel", "where"), [(100, 51), (40_000, 30_000)])
def test_one_changed_element_changes_the_digest(numel: int, where: int) -> None:
    """A one-ULP change of one element changes the digest (large: an element of the subset)."""
    a = torch.randn(numel, generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[where] = torch.nextafter(b[where], torch.tensor(10.0))
    assert _one(torch.neg, a).digest != _one(torch.neg, b).digest
    assert _one(torch.neg, a).digest == _one(torch.neg, a.clone()).digest


def test_large_output_change_of_the_maximum_changes_the_digest() -> None:
    """Outside the CRC subset, a change of an extreme still shows (min and max of all)."""
    a = torch.randn(40_000, generator=torch.Generator().manual_seed(1))
    b = a.clone()
    b[30_001] = 100.0  # 30_001 is not a multiple of the subset stride (3)
    assert _one(torch.neg, a).digest != _one(torch.neg, b).digest


def test_integer_and_bool_outputs_are_digested() -> None:
    """Non-floating outputs get a digest from their bytes and no summary."""
    a = torch.tensor([1, 2, 3])
    entry = _one(lambda t: t > 1, a)
    assert entry.dtypes == ("bool",)
    assert entry.absmax is None
    assert entry.digest != _one(lambda t: t > 2, a).digest


def test_nan_output_has_nan_absmax() -> None:
    """A non-finite output's absmax is NaN: no largest magnitude is defined."""
    entry = _one(lambda t: t * 1, torch.tensor([1.0, float("nan"), 2.0]))
    assert entry.absmax is not None
    assert entry.absmax != entry.absmax


def test_view_operators_are_recorded_without_contents() -> None:
    """A view (transpose) is listed, with shape but no summary: it computes nothing."""
    entry = _one(lambda t: t.t(), torch.ones(2, 3))
    assert entry.op == "aten.t.default"
    assert entry.shapes == ((3, 2),)
    assert entry.absmax is None


def test_tracing_does_not_change_the_numbers() -> None:
    """A traced step produces bitwise the same loss and parameters as an untraced one."""
    _, traced_params, traced_loss = _step(OpTracer("tf"), seed=3)
    torch.manual_seed(3)
    model = Block()
    torch.nn.init.trunc_normal_(model.emb.weight, std=0.02)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    tokens = torch.randint(0, 11, (2, 6))
    loss = torch.nn.functional.cross_entropy(model(tokens).reshape(-1, 11), tokens.reshape(-1))
    loss.backward()
    optimizer.step()
    assert float(loss.detach()) == traced_loss
    for name, param in model.named_parameters():
        assert torch.equal(param.detach(), traced_params[name]), name


def test_two_traces_of_the_same_seeded_step_are_equal() -> None:
    """Digests are reproducible, uninitialised memory (torch.empty) included."""
    first, _, _ = _step(OpTracer("tf"), seed=1)
    second, _, _ = _step(OpTracer("tf"), seed=1)
    assert first == second


def test_a_different_random_stream_changes_the_dropout_digest() -> None:
    """Different seeds give different bernoulli_ digests: the trace sees the random stream."""
    first, _, _ = _step(OpTracer("tf"), seed=1)
    second, _, _ = _step(OpTracer("tf"), seed=2)

    def dropout(entries: list[TraceEntry]) -> str:
        return next(e.digest for e in entries if e.op == "aten.bernoulli_.float")

    assert dropout(first) != dropout(second)


def test_in_place_operator_returning_nothing_digests_what_it_wrote() -> None:
    """_foreach_add_ returns None; its entry digests the tensors it mutated."""
    xs = [torch.ones(3), torch.zeros(2)]
    tracer = OpTracer("x")
    with tracer.recording(0, "optimizer"):
        torch._foreach_add_(xs, 1.0)
    (entry,) = (e for e in tracer.entries if e.op.startswith("aten._foreach_add_"))
    assert entry.shapes == ((3,), (2,))
    twos = [torch.full((3,), 2.0), torch.ones(2)]
    other = OpTracer("x")
    with other.recording(0, "optimizer"):
        torch._foreach_add_([torch.ones(3), torch.zeros(2)], 1.0)
    assert other.entries[-1].digest == entry.digest
    with other.recording(1, "optimizer"):
        torch._foreach_add_(twos, 1.0)
    assert other.entries[-1].digest != entry.digest


def test_scalar_and_empty_outputs_are_recorded() -> None:
    """.item() (a Python number) and 0-element tensors give entries without summaries."""
    tracer = OpTracer("x")
    a = torch.tensor([1.5, 2.5])
    with tracer.recording(0, "forward"):
        a.sum().item()
        a[:0] + 1
    ops = [e.op for e in tracer.entries]
    assert "aten._local_scalar_dense.default" in ops
    empty = tracer.entries[-1]
    assert empty.shapes == ((0,),)
    assert empty.absmax is None


def test_paused_block_is_left_out() -> None:
    """Operators inside paused() are not recorded and do not take an index."""
    tracer = OpTracer("x")
    a = torch.ones(2)
    with tracer.recording(0, "forward"):
        a + 1
        with tracer.paused():
            a * 3
        a - 1
    assert [(e.op, e.index) for e in tracer.entries] == [
        ("aten.add.Tensor", 0),
        ("aten.sub.Tensor", 1),
    ]


def test_nothing_is_recorded_outside_recording_blocks() -> None:
    """Hooks stay inert and no operator is traced outside recording()."""
    tracer = OpTracer("m")
    model = torch.nn.Linear(2, 2)
    tracer.attach(model)
    model(torch.ones(1, 2)).sum().backward()
    tracer.close()
    assert tracer.entries == []


def test_close_removes_the_module_hooks() -> None:
    """After close() the model carries no hooks of ours."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    tracer = OpTracer("m")
    tracer.attach(model)
    tracer.close()
    for module in model.modules():
        assert not module._forward_hooks
        assert not module._forward_pre_hooks


def test_nested_recording_is_refused() -> None:
    """A recording block inside another is a programming error."""
    tracer = OpTracer("m")
    with tracer.recording(0, "forward"), pytest.raises(RuntimeError, match="nested"):
        with tracer.recording(0, "backward"):
            pass


def test_builtin_transformer_first_step_lists_attention_layer_norm_and_dropout() -> None:
    """Acceptance: the transformer's first-step trace names its kernels with module paths.

    On CPU, scaled_dot_product_attention runs the fused flash kernel (torch >= 2.2); older
    torch and attention dropout take its math path (softmax and bmm) instead.
    """
    from reprocheck.replay import replay_scenario

    record, _ = replay_scenario("transformer", steps=1, trace_steps=1)
    forward = {(e.op, e.module) for e in record.trace if e.step == 0 and e.phase == "forward"}
    backward = {(e.op, e.module) for e in record.trace if e.phase == "backward"}
    attention = {
        "aten._scaled_dot_product_flash_attention_for_cpu.default",
        "aten._safe_softmax.default",
        "aten._softmax.default",
    }
    assert any(op in attention and module == "transformer.attn" for op, module in forward)
    assert ("aten.native_layer_norm.default", "transformer.ln1") in forward
    assert ("aten.native_layer_norm.default", "transformer.ln_f") in forward
    assert ("aten.bernoulli_.float", "transformer.dropout") in forward
    assert ("aten.native_layer_norm_backward.default", "transformer.ln2") in backward
    init = {e.op for e in record.trace if e.phase == "init"}
    assert {"aten.uniform_.default", "aten.normal_.default"} <= init  # trunc_normal_, Linear


class Outer(torch.nn.Module):
    """A parent that computes before and after its child, to test the graph walk."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.inner(torch.sigmoid(x * 3)))


def test_backward_of_parent_ops_around_a_child_stays_with_the_parent() -> None:
    """The parent's own ops before and after its child keep the parent's path in backward."""
    model = Outer()
    x = torch.randn(2, 4, requires_grad=True)
    tracer = OpTracer("o")
    tracer.attach(model)
    with tracer.recording(0, "forward"):
        loss = model(x).sum()
    with tracer.recording(0, "backward"):
        loss.backward()
    tracer.close()
    backward = {(e.op, e.module) for e in tracer.entries if e.phase == "backward"}
    assert ("aten.tanh_backward.default", "o") in backward
    assert ("aten.sigmoid_backward.default", "o") in backward
    assert ("aten.mm.default", "o.inner") in backward
    # x * 3 runs in the parent before the child: its backward is the parent's, not the
    # child's (the walk from the child's output stops at the child's inputs).
    mul = [
        e.module for e in tracer.entries if e.phase == "backward" and e.op.startswith("aten.mul")
    ]
    assert mul == ["o"]
    forward = [(e.op, e.module) for e in tracer.entries if e.phase == "forward"]
    assert forward[-1] == ("aten.sum.default", "")
