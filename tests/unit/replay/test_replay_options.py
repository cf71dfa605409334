"""ReplayOptions: checked once when built, named by field, and read back from its JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reprocheck.errors import InputError
from reprocheck.model.records import ScenarioConfig
from reprocheck.replay.options import ReplayOptions


def test_defaults_are_one_process_on_the_cpu() -> None:
    """ReplayOptions() is the CLI's defaults: scenario steps, seed 0, cpu, one traced step."""
    options = ReplayOptions()
    assert (options.steps, options.seed, options.device, options.trace_steps) == (
        None,
        0,
        "cpu",
        1,
    )
    assert (options.world_size, options.backend, options.bucket_cap_mb) == (1, None, None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"steps": 0}, "steps", "steps must be >= 1, got 0"),
        ({"steps": True}, "steps", "steps must be a whole number, got True"),
        ({"steps": 2.0}, "steps", "steps must be a whole number, got 2.0"),
        ({"trace_steps": -1}, "trace_steps", "trace_steps must be >= 0, got -1"),
        ({"seed": -3}, "seed", "seed -3 is out of range"),
        ({"seed": "1"}, "seed", "seed must be a whole number"),
        ({"device": "tpu"}, "device", "device must be 'cpu' or 'cuda', got 'tpu'"),
        ({"world_size": 0}, "world_size", "world_size must be >= 1, got 0"),
    ],
)
def test_a_bad_value_is_an_input_error_naming_its_field(
    fields: dict[str, object], field: str, message: str
) -> None:
    """The message and ``error.field`` name the field, never a CLI flag."""
    with pytest.raises(InputError, match=message) as info:
        ReplayOptions(**fields)  # type: ignore[arg-type]
    assert info.value.field == field
    assert "--" not in info.value.message
    assert "--" not in (info.value.hint or "")


def test_options_are_frozen_and_replace_checks_again() -> None:
    """No one changes a checked value in place; a changed copy is checked like a new one."""
    options = ReplayOptions(steps=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.steps = 0  # type: ignore[misc]
    with pytest.raises(InputError, match="steps must be >= 1"):
        dataclasses.replace(options, steps=0)


def test_equal_options_group_together() -> None:
    """Hashable by value: check groups a baseline's scenarios by their options."""
    groups = {ReplayOptions(steps=2): "a", ReplayOptions(steps=2, seed=0): "b"}
    assert len(groups) == 1


@pytest.mark.parametrize(
    "options",
    [ReplayOptions(), ReplayOptions(steps=3, seed=7, trace_steps=0), ReplayOptions(world_size=2)],
)
def test_options_round_trip_through_json(options: ReplayOptions) -> None:
    """from_dict(to_dict(x)) == x, through real JSON text."""
    assert ReplayOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options


def test_from_dict_checks_what_it_reads() -> None:
    """A bad value or an unknown key in the JSON is refused, as by the constructor."""
    with pytest.raises(InputError, match="steps must be >= 1") as info:
        ReplayOptions.from_dict({"steps": 0})
    assert info.value.field == "steps"
    with pytest.raises(InputError, match="unknown replay option 'step'"):
        ReplayOptions.from_dict({"step": 3})


def test_for_record_replays_what_the_baseline_ran() -> None:
    """A record's config gives back the options it was replayed with, layout included."""
    config = ScenarioConfig(
        steps=4,
        seed=9,
        device="cpu",
        dtype="float32",
        trace_steps=1,
        world_size=2,
        backend="gloo",
        bucket_cap_mb=10.0,
    )
    assert ReplayOptions.for_record(config) == ReplayOptions(
        steps=4, seed=9, trace_steps=1, world_size=2, bucket_cap_mb=10.0
    )


def test_layout_is_what_the_fingerprint_records() -> None:
    """The run section of a fingerprint: world size, backend, bucket size."""
    assert ReplayOptions(world_size=2).layout() == {
        "world_size": 2,
        "backend": "gloo",
        "bucket_cap_mb": 25.0,
    }
