"""Resolve a scenario name to its builder, and build it with clear errors."""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from reprocheck.errors import ScenarioError
from reprocheck.scenarios.api import Scenario, ScenarioContext

__all__ = [
    "BUILTIN_NAMES",
    "DEFAULT_USER_STEPS",
    "ENTRY_POINT_GROUP",
    "ScenarioSpec",
    "describe_error",
    "load_scenario",
]

ENTRY_POINT_GROUP = "reprocheck.scenarios"
# Order matters: `reprocheck run` without names replays them in this order.
BUILTIN_NAMES: tuple[str, ...] = ("mlp", "cnn", "transformer", "rnn")
DEFAULT_USER_STEPS = 10

Builder = Callable[[ScenarioContext], Any]


def describe_error(exc: BaseException) -> str:
    """``TypeName: first line of the message``, for one-line error reports."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclasses.dataclass(frozen=True)
class ScenarioSpec:
    """A named scenario that can be built.

    Attributes:
        name: the name it was asked for by (also the root of its module paths).
        source: ``"builtin"``, the ``module:function`` string, or ``"entry-point"``.
        builder: the ``build(ctx)`` function.
        default_steps: how many steps to run when the caller does not say.
        description: one line for listings.
        default_dtype: a dtype name (``"float64"``) to make torch's default while building
            and running, or ``None`` to leave the default alone.
    """

    name: str
    source: str
    builder: Builder
    default_steps: int = DEFAULT_USER_STEPS
    description: str = ""
    default_dtype: str | None = None

    def create(self, ctx: ScenarioContext) -> Scenario:
        """Call the builder and check that it returned a usable :class:`Scenario`."""
        try:
            scenario = self.builder(ctx)
        except Exception as exc:
            raise ScenarioError(
                f"scenario {self.name!r}: building it raised {describe_error(exc)}",
                hint="Fix the scenario's build function; run it directly to see the traceback.",
            ) from exc
        if not isinstance(scenario, Scenario):
            raise ScenarioError(
                f"scenario {self.name!r}: its build function returned "
                f"{type(scenario).__name__}, expected reprocheck.Scenario",
                hint="Return reprocheck.Scenario(model=..., optimizer=..., batch=..., loss=...).",
            )
        _check_fields(self.name, scenario)
        return scenario


def _check_fields(name: str, scenario: Scenario) -> None:
    import torch

    # User code: the annotations promise nothing at run time.
    fields: dict[str, Any] = {
        f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)
    }
    problems = []
    if not isinstance(fields["model"], torch.nn.Module):
        problems.append(f"model is {type(fields['model']).__name__}, not a torch.nn.Module")
    optimizers = fields["optimizer"]
    if not isinstance(optimizers, (list, tuple)):
        optimizers = [optimizers]
    bad = [o for o in optimizers if not isinstance(o, torch.optim.Optimizer)]
    if bad or not optimizers:
        problems.append(
            f"optimizer is {type(bad[0] if bad else optimizers).__name__}, "
            "not a torch.optim.Optimizer (or a sequence of them)"
        )
    problems.extend(
        f"{key} is not callable" for key in ("batch", "loss") if not callable(fields[key])
    )
    for key in ("clip_grad_norm", "clip_grad_value"):
        clip = fields[key]
        if clip is not None and (
            isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0
        ):
            problems.append(f"{key} is {clip!r}, not a positive number")
    micro = fields["micro_batches"]
    if isinstance(micro, bool) or not isinstance(micro, int) or micro < 1:
        problems.append(f"micro_batches is {micro!r}, not a whole number >= 1")
    if fields["accumulate"] not in ("mean", "sum"):
        problems.append(f"accumulate is {fields['accumulate']!r}, not 'mean' or 'sum'")
    if problems:
        raise ScenarioError(
            f"scenario {name!r}: {problems[0]}",
            hint="See docs/scenarios.md for what a Scenario holds.",
        )


def _builtin(name: str) -> ScenarioSpec:
    module = importlib.import_module(f"reprocheck.scenarios.{name}")
    return ScenarioSpec(
        name=name,
        source="builtin",
        builder=module.build,
        default_steps=module.DEFAULT_STEPS,
        description=module.DESCRIPTION,
    )


def _from_attribute(name: str, source: str, target: Any) -> ScenarioSpec:
    if not callable(target):
        raise ScenarioError(
            f"scenario {name!r}: {source} is {type(target).__name__}, not a function",
            hint="Point at a function build(ctx) -> reprocheck.Scenario.",
        )
    steps = getattr(target, "default_steps", DEFAULT_USER_STEPS)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        steps = DEFAULT_USER_STEPS
    doc = (getattr(target, "__doc__", None) or "").strip().splitlines()
    return ScenarioSpec(
        name=name,
        source=source,
        builder=target,
        default_steps=steps,
        description=doc[0] if doc else "",
    )


def _from_module(name: str) -> ScenarioSpec:
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise ScenarioError(
            f"scenario {name!r} is not of the form module:function",
            hint="Name your own scenario like mypackage.scenarios:build.",
        )
    # Like `python -m`: the working directory's modules are importable.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise ScenarioError(
                f"scenario {name!r}: cannot import module {module_name!r} ({describe_error(exc)})",
                hint=f"Run from the directory that holds it (now {cwd}) or install it.",
            ) from exc
        raise _import_raised(name, module_name, exc) from exc
    except Exception as exc:
        raise _import_raised(name, module_name, exc) from exc
    try:
        target = getattr(module, attr)
    except AttributeError:
        raise ScenarioError(
            f"scenario {name!r}: module {module_name!r} has no attribute {attr!r}",
            hint=f"Define def {attr}(ctx) -> reprocheck.Scenario in {module_name}.",
        ) from None
    return _from_attribute(name, name, target)


def _import_raised(name: str, module_name: str, exc: BaseException) -> ScenarioError:
    return ScenarioError(
        f"scenario {name!r}: importing module {module_name!r} raised {describe_error(exc)}",
        hint=f"Fix the module; `python -c 'import {module_name}'` shows the traceback.",
    )


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found}


def _from_entry_point(name: str, entry: metadata.EntryPoint) -> ScenarioSpec:
    try:
        target = entry.load()
    except Exception as exc:
        raise ScenarioError(
            f"scenario {name!r}: loading entry point {entry.value!r} raised {describe_error(exc)}",
            hint=f"Fix or reinstall the package that declares {ENTRY_POINT_GROUP!r}.",
        ) from exc
    return _from_attribute(name, "entry-point", target)


def load_scenario(name: str) -> ScenarioSpec:
    """Find a scenario by name.

    Built-in names come first, then ``module:function`` (importable from the working
    directory), then the entry points in the group ``reprocheck.scenarios``.

    Raises:
        ScenarioError: the name is unknown, the module cannot be imported, the attribute
            is missing or not callable.
    """
    if name in BUILTIN_NAMES:
        return _builtin(name)
    if ":" in name:
        return _from_module(name)
    entries = _entry_points()
    if name in entries:
        return _from_entry_point(name, entries[name])
    installed = f"; installed: {', '.join(sorted(entries))}" if entries else ""
    raise ScenarioError(
        f"unknown scenario {name!r}",
        hint=f"Built-in scenarios: {', '.join(BUILTIN_NAMES)}{installed}. "
        "Name your own as module:function, or declare it in the entry-point group "
        f"{ENTRY_POINT_GROUP!r}.",
    )
