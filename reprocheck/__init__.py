"""reprocheck: will your PyTorch training numbers change after this upgrade?

The public API is imported lazily: ``import reprocheck`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reprocheck._version import __version__
from reprocheck.errors import ReprocheckError
from reprocheck.scenarios.api import Scenario, ScenarioContext

if TYPE_CHECKING:
    from reprocheck.artifacts.runs import Run, load_run
    from reprocheck.comparison import (
        ComparisonResult,
        Policy,
        Tolerance,
        compare,
        load_policy,
    )
    from reprocheck.env import fingerprint
    from reprocheck.model.fingerprint import Fingerprint
    from reprocheck.replay import replay_scenario
    from reprocheck.replay.options import ReplayOptions
    from reprocheck.report import render
    from reprocheck.scenarios import load_scenario
    from reprocheck.workflows.check import check_against
    from reprocheck.workflows.determinism import DeterminismResult, check_determinism
    from reprocheck.workflows.record import Recorder, record
    from reprocheck.workflows.run import run_scenarios
    from reprocheck.workflows.seeding import seed_everything

__all__ = [
    "ComparisonResult",
    "DeterminismResult",
    "Fingerprint",
    "Policy",
    "Recorder",
    "ReplayOptions",
    "ReprocheckError",
    "Run",
    "Scenario",
    "ScenarioContext",
    "Tolerance",
    "__version__",
    "check_against",
    "check_determinism",
    "compare",
    "fingerprint",
    "load_policy",
    "load_run",
    "load_scenario",
    "record",
    "render",
    "replay_scenario",
    "run_scenarios",
    "seed_everything",
]

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Fingerprint": "reprocheck.model.fingerprint",
    "fingerprint": "reprocheck.env",
    "ComparisonResult": "reprocheck.comparison",
    "Policy": "reprocheck.comparison",
    "Tolerance": "reprocheck.comparison",
    "compare": "reprocheck.comparison",
    "load_policy": "reprocheck.comparison",
    "render": "reprocheck.report",
    "check_against": "reprocheck.workflows.check",
    "DeterminismResult": "reprocheck.workflows.determinism",
    "check_determinism": "reprocheck.workflows.determinism",
    "load_scenario": "reprocheck.scenarios",
    "replay_scenario": "reprocheck.replay",
    "run_scenarios": "reprocheck.workflows.run",
    "Recorder": "reprocheck.workflows.record",
    "record": "reprocheck.workflows.record",
    "seed_everything": "reprocheck.workflows.seeding",
    "ReplayOptions": "reprocheck.replay.options",
    "Run": "reprocheck.artifacts.runs",
    "load_run": "reprocheck.artifacts.runs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprocheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
