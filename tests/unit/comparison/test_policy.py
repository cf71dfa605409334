"""Tests for reprocheck.comparison.policy: presets, overrides, policy files, pyproject."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reprocheck.comparison.policy import (
    DEFAULT_TOLERANCES,
    PRESETS,
    Policy,
    Tolerance,
    load_policy,
)
from reprocheck.errors import PolicyError

EXAMPLE = """\
preset = "default"

[dtypes]
float32 = { rtol = 1e-5, atol = 1e-6 }

[[tensor]]
match = "transformer/param/*.bias"
rtol = 1e-4
atol = 1e-5

[[tensor]]
match = "transformer/param/*"
rtol = 1e-3
atol = 0

[[metric]]
match = "*/loss"
rtol = 1e-4
atol = 0
"""


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_table_is_torch_testing_table() -> None:
    """The default preset starts from torch.testing's per-dtype defaults."""
    from torch.testing import _comparison

    table = getattr(_comparison, "_DTYPE_PRECISIONS", None)
    if table is None:
        pytest.skip("this torch keeps its tolerance table elsewhere")
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        name = str(dtype).removeprefix("torch.")
        assert DEFAULT_TOLERANCES[name] == Tolerance(*table[dtype])


def test_bitwise_preset_is_all_zero() -> None:
    """Every dtype tolerance of the bitwise preset is (0, 0), metrics too."""
    policy = Policy.from_preset("bitwise")
    assert set(policy.dtype_tolerances.values()) == {Tolerance(0.0, 0.0)}
    assert policy.tolerance_for_metric("mlp/loss") == Tolerance(0.0, 0.0)


def test_loose_preset_is_looser_than_default() -> None:
    """loose is at least as wide as default for every dtype, in rtol and atol."""
    loose = Policy.from_preset("loose").dtype_tolerances
    for name, tol in DEFAULT_TOLERANCES.items():
        assert loose[name].rtol > tol.rtol
        assert loose[name].atol > tol.atol


def test_unknown_preset_raises_policy_error_listing_presets() -> None:
    """An unknown preset name is a PolicyError (exit 2) whose hint lists the presets."""
    with pytest.raises(PolicyError) as info:
        Policy.from_preset("strict")
    assert info.value.exit_code == 2
    assert info.value.hint is not None
    assert all(name in info.value.hint for name in PRESETS)


def test_integer_tensors_are_always_exact() -> None:
    """Integer and bool dtypes get (0, 0), even when a tensor glob matches."""
    policy = Policy.from_dict({"tensor": [{"match": "*", "rtol": 1.0, "atol": 1.0}]})
    assert policy.tolerance_for("mlp/buffer/steps", "int64") == Tolerance(0.0, 0.0)
    assert policy.tolerance_for("mlp/param/w", "float32") == Tolerance(1.0, 1.0)


def test_policy_file_is_read(tmp_path: Path) -> None:
    """The documented example file sets dtypes, tensor and metric overrides."""
    policy = load_policy(write(tmp_path, EXAMPLE))
    assert policy.preset == "default"
    assert policy.dtype_tolerances["float32"] == Tolerance(1e-5, 1e-6)
    assert policy.dtype_tolerances["bfloat16"] == DEFAULT_TOLERANCES["bfloat16"]
    assert policy.tolerance_for_metric("mlp/loss") == Tolerance(1e-4, 0.0)
    assert policy.tolerance_for_metric("mlp/grad_norm") == Tolerance(1e-5, 1e-6)


def test_tensor_globs_first_match_wins(tmp_path: Path) -> None:
    """Overrides are tried in file order: the first matching glob decides."""
    policy = load_policy(write(tmp_path, EXAMPLE))
    assert policy.tolerance_for("transformer/param/attn.bias", "float32") == Tolerance(1e-4, 1e-5)
    assert policy.tolerance_for("transformer/param/attn.weight", "float32") == Tolerance(1e-3, 0)
    assert policy.tolerance_for("mlp/param/fc1.weight", "float32") == Tolerance(1e-5, 1e-6)


def test_policy_round_trips_through_dict(tmp_path: Path) -> None:
    """from_dict(to_dict(p)) == p."""
    policy = load_policy(write(tmp_path, EXAMPLE))
    assert Policy.from_dict(policy.to_dict()) == policy


def test_pyproject_tool_section_is_honoured(tmp_path: Path) -> None:
    """Without a policy file, [tool.reprocheck] in pyproject.toml is the policy."""
    text = '[project]\nname = "x"\n\n[tool.reprocheck]\npreset = "loose"\n\n'
    text += '[[tool.reprocheck.metric]]\nmatch = "*/loss"\nrtol = 0.5\natol = 0\n'
    write(tmp_path, text, "pyproject.toml")
    policy = load_policy(project_dir=tmp_path)
    assert policy.preset == "loose"
    assert policy.tolerance_for_metric("cnn/loss") == Tolerance(0.5, 0.0)


def test_pyproject_without_section_gives_default(tmp_path: Path) -> None:
    """A pyproject.toml with no [tool.reprocheck] leaves the default preset."""
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_policy(project_dir=tmp_path) == Policy.from_preset("default")


def test_no_pyproject_gives_default(tmp_path: Path) -> None:
    """Without a policy file or pyproject.toml the policy is the default preset."""
    assert load_policy(project_dir=tmp_path) == Policy.from_preset("default")


def test_explicit_policy_file_wins_over_pyproject(tmp_path: Path) -> None:
    """A --policy file decides alone; [tool.reprocheck] is then ignored."""
    write(tmp_path, '[tool.reprocheck]\npreset = "loose"\n', "pyproject.toml")
    path = write(tmp_path, 'preset = "bitwise"\n')
    assert load_policy(path, project_dir=tmp_path).preset == "bitwise"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("preset = [", "invalid TOML"),
        ('presett = "default"\n', "unknown key 'presett'"),
        ('preset = "strict"\n', "unknown tolerance preset 'strict'"),
        ("[dtypes]\nfloat32 = { rtol = -1e-5, atol = 0 }\n", "'rtol' must be a finite number >= 0"),
        ("[dtypes]\nfloat32 = { rtol = nan, atol = 0 }\n", "'rtol' must be a finite number >= 0"),
        ("[dtypes]\nfloat32 = { rtol = true, atol = 0 }\n", "'rtol' must be a number"),
        ("[dtypes]\nfloat32 = { rtol = 1e-5 }\n", "'atol' is missing"),
        ("[dtypes]\nfloat33 = { rtol = 0, atol = 0 }\n", "unknown floating dtype 'float33'"),
        ("[dtypes]\nint64 = { rtol = 0, atol = 0 }\n", "unknown floating dtype 'int64'"),
        ("[[tensor]]\nmatch = 3\nrtol = 0\natol = 0\n", "'match' must be a non-empty glob"),
        ("[[tensor]]\nrtol = 0\natol = 0\n", "'match' must be a non-empty glob"),
        ("[[metric]]\nmatch = '*'\nrtol = 0\natol = 0\nrtool = 1\n", "unknown key 'rtool'"),
        ("tensor = 3\n", "must be an array of tables"),
        ("dtypes = 3\n", "'dtypes' must be a table"),
    ],
)
def test_bad_policy_file_raises_policy_error(tmp_path: Path, text: str, expected: str) -> None:
    """Each malformed policy is a one-line PolicyError naming the file and the key."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_missing_policy_file_raises_policy_error(tmp_path: Path) -> None:
    """A policy path that does not exist is a PolicyError naming it."""
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.toml")


def test_bad_pyproject_section_names_pyproject(tmp_path: Path) -> None:
    """An error under [tool.reprocheck] names pyproject.toml and the section."""
    write(tmp_path, "[tool.reprocheck]\nrtol = 1\n", "pyproject.toml")
    with pytest.raises(PolicyError, match=r"pyproject\.toml: \[tool\.reprocheck\]: unknown key"):
        load_policy(project_dir=tmp_path)


def test_tolerance_from_dict_rejects_negative_atol() -> None:
    """Tolerance.from_dict validates its values like the file reader does."""
    with pytest.raises(PolicyError, match="'atol' must be a finite number >= 0"):
        Tolerance.from_dict({"rtol": 0, "atol": -1})
