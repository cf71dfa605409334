"""torch.compile's wrapper in names, and the record's ``compiled`` field (fast: no compile)."""

from __future__ import annotations

import torch

from reprocheck._compat import dynamo
from reprocheck.model.compiled import Compiled
from reprocheck.model.records import ScenarioConfig, ScenarioRecord
from reprocheck.replay.compiled import CompileWatch, plain_name
from reprocheck.replay.loop import model_tensors


def test_plain_name_drops_the_wrapper_segment() -> None:
    assert plain_name("_orig_mod.0.weight") == "0.weight"
    assert plain_name("_orig_mod") == ""
    assert plain_name("enc._orig_mod.fc.bias") == "enc.fc.bias"
    assert plain_name("fc.weight") == "fc.weight"


def test_compiled_and_eager_tensors_share_their_names() -> None:
    """Wrapping (no call yet: nothing compiles) leaves the final tensor keys unchanged."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    wrapped = torch.compile(model)
    assert next(iter(dict(wrapped.named_parameters()))).startswith("_orig_mod.")
    assert list(model_tensors(wrapped, None)) == list(model_tensors(model, None))


def test_backend_is_read_from_the_wrapper() -> None:
    model = torch.nn.Linear(2, 2)
    assert dynamo.compiled_backend(model) is None
    assert dynamo.compiled_backend(torch.compile(model)) == "inductor"
    assert dynamo.compiled_backend(torch.compile(model, backend="eager")) == "eager"
    outer = torch.nn.Sequential(torch.compile(model, backend="aot_eager"))
    assert dynamo.compiled_backend(outer) == "aot_eager"


def test_an_eager_model_has_no_compiled_record() -> None:
    watch = CompileWatch("s", torch.nn.Linear(2, 2))
    watch.traced(0, last=True)
    assert watch.result() is None


def _record(compiled: Compiled | None) -> ScenarioRecord:
    config = ScenarioConfig(steps=1, seed=0, device="cpu", dtype="float32", trace_steps=1)
    return ScenarioRecord(
        name="s",
        source="s",
        config=config,
        init_digests={},
        steps=(),
        trace=(),
        tensors={},
        compiled=compiled,
    )


def test_compiled_field_round_trips_and_old_runs_read_as_none() -> None:
    compiled = Compiled(backend="inductor", graphs=2, graph_breaks=1, eager_steps=1)
    data = _record(compiled).to_dict()
    assert ScenarioRecord.from_dict(data).compiled == compiled
    plain = _record(None).to_dict()
    assert "compiled" not in plain  # an eager run's record is as before
    assert ScenarioRecord.from_dict(plain).compiled is None


def test_compare_notes_a_difference_in_compilation() -> None:
    from reprocheck.comparison.compiled import compiled_notes

    compiled = _record(Compiled(backend="inductor", graphs=1, graph_breaks=0, eager_steps=1))
    eager = _record(None)
    assert compiled_notes(eager, eager) == []
    assert compiled_notes(compiled, compiled) == []
    assert compiled_notes(eager, compiled) == [
        "compiled: baseline eager; candidate torch.compile inductor, 1 graph(s), "
        "0 graph break(s), 1 traced step(s) eager"
    ]
