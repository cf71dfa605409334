"""Scenarios by name: the built-ins, ``module:function``, and the ``reprocheck.scenarios`` group.

:func:`load_scenario` turns a name into a :class:`ScenarioSpec`; the spec's
:meth:`~ScenarioSpec.create` calls the user's ``build(ctx)`` and checks what it returns.
Every failure on the way (unknown name, module not importable, attribute missing, build
raising, wrong return type) is a one-line :class:`~reprocheck.errors.ScenarioError`
naming the scenario and the user's exception.
"""

from __future__ import annotations

from reprocheck.scenarios.loader import (
    BUILTIN_NAMES,
    ENTRY_POINT_GROUP,
    ScenarioSpec,
    describe_error,
    load_scenario,
)

__all__ = [
    "BUILTIN_NAMES",
    "ENTRY_POINT_GROUP",
    "ScenarioSpec",
    "describe_error",
    "load_scenario",
]
