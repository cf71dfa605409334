"""Scenario lookup (built-in, module:function, entry point) and its one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from reprocheck.errors import ScenarioError
from reprocheck.scenarios import BUILTIN_NAMES, ENTRY_POINT_GROUP, load_scenario
from reprocheck.scenarios.api import Scenario, ScenarioContext

GOOD = """
import torch, reprocheck

def build(ctx):
    model = torch.nn.Linear(4, 2)
    x = torch.randn(ctx.steps, 3, 4, generator=ctx.generator)
    return reprocheck.Scenario(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        batch=lambda step: x[step],
        loss=lambda model, batch: model(batch).square().mean(),
    )

build.default_steps = 4

def returns_dict(ctx):
    return {"model": None}

def raises(ctx):
    raise ValueError("no data here\\nsecond line")

def bad_optimizer(ctx):
    model = torch.nn.Linear(4, 2)
    return reprocheck.Scenario(model=model, optimizer="sgd", batch=lambda s: s, loss=len)

not_a_function = 3
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory holding user modules, removed from sys.modules afterwards."""
    (tmp_path / "userscen.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken_on_import.py").write_text("import not_a_module_xyz\n", encoding="utf-8")
    (tmp_path / "raises_on_import.py").write_text("1 / 0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in ("userscen", "broken_on_import", "raises_on_import"):
        sys.modules.pop(name, None)


def _ctx(steps: int = 2) -> ScenarioContext:
    generator = torch.Generator().manual_seed(0)
    return ScenarioContext(seed=0, steps=steps, device="cpu", generator=generator)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_builds_a_scenario(name: str) -> None:
    """Every built-in name resolves and builds a Scenario with a model and an optimizer."""
    spec = load_scenario(name)
    scenario = spec.create(_ctx())
    assert spec.source == "builtin"
    assert spec.default_steps >= 1
    assert isinstance(scenario, Scenario)
    assert isinstance(scenario.optimizer, torch.optim.Optimizer)


def test_builtin_list_is_the_documented_one() -> None:
    """The built-ins are mlp, cnn, transformer and rnn, in that order."""
    assert BUILTIN_NAMES == ("mlp", "cnn", "transformer", "rnn")


def test_module_function_loads_from_working_directory(user_dir: Path) -> None:
    """module:function is importable from the working directory and keeps its name as source."""
    spec = load_scenario("userscen:build")
    assert spec.source == "userscen:build"
    assert spec.name == "userscen:build"
    assert spec.default_steps == 4
    assert isinstance(spec.create(_ctx()), Scenario)


def test_unknown_name_lists_builtins() -> None:
    """An unknown plain name says so and lists the built-ins in the hint."""
    with pytest.raises(ScenarioError, match="unknown scenario 'nosuch'") as info:
        load_scenario("nosuch")
    assert info.value.hint is not None
    assert "mlp, cnn, transformer, rnn" in info.value.hint
    assert ENTRY_POINT_GROUP in info.value.hint


def test_module_not_importable(user_dir: Path) -> None:
    """A module that does not exist is named, with the cause."""
    with pytest.raises(ScenarioError) as info:
        load_scenario("missing_mod_xyz:build")
    message = str(info.value)
    assert "'missing_mod_xyz:build'" in message
    assert "cannot import module 'missing_mod_xyz'" in message
    assert "ModuleNotFoundError" in message


def test_module_whose_import_fails_names_the_inner_error(user_dir: Path) -> None:
    """A module that exists but fails to import reports the user's exception."""
    with pytest.raises(ScenarioError, match="importing module 'broken_on_import' raised"):
        load_scenario("broken_on_import:build")
    with pytest.raises(ScenarioError, match="ZeroDivisionError"):
        load_scenario("raises_on_import:build")


def test_attribute_missing(user_dir: Path) -> None:
    """A missing function names the module and the attribute."""
    with pytest.raises(ScenarioError, match="module 'userscen' has no attribute 'nothere'"):
        load_scenario("userscen:nothere")


def test_attribute_not_callable(user_dir: Path) -> None:
    """An attribute that is not a function is refused before any replay."""
    with pytest.raises(ScenarioError, match="not a function"):
        load_scenario("userscen:not_a_function")


def test_malformed_module_name() -> None:
    """'module:' without a function is not a scenario name."""
    with pytest.raises(ScenarioError, match="not of the form module:function"):
        load_scenario("userscen:")


def test_wrong_return_type(user_dir: Path) -> None:
    """A build function returning something else than a Scenario is named with the type."""
    spec = load_scenario("userscen:returns_dict")
    with pytest.raises(ScenarioError, match=r"returned dict, expected reprocheck\.Scenario"):
        spec.create(_ctx())


def test_build_raising_is_one_line(user_dir: Path) -> None:
    """A build function that raises is reported with its type and first message line."""
    spec = load_scenario("userscen:raises")
    with pytest.raises(ScenarioError) as info:
        spec.create(_ctx())
    assert str(info.value) == (
        "scenario 'userscen:raises': building it raised ValueError: no data here"
    )


def test_bad_scenario_fields_are_named(user_dir: Path) -> None:
    """A Scenario whose optimizer is not an Optimizer is refused with the field named."""
    spec = load_scenario("userscen:bad_optimizer")
    with pytest.raises(ScenarioError, match=r"optimizer is str, not a torch\.optim\.Optimizer"):
        spec.create(_ctx())
